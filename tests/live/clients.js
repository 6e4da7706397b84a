// clients.js - real Redis client libraries with auto-pipelining against
// the testbed: ioredis (enableAutoPipelining) or node-redis v4 (which
// pipelines the commands issued in one tick). CONNS pooled connections,
// each issuing batches of 1..12 commands without waiting between them
// (every command of a batch in the same tick: one write), then waiting for
// the batch's replies before the next. Every command and its reply goes to
// a log that tests/live/regcheck.py checks against a model of the store;
// this script judges nothing but error replies.
//
//   node clients.js --lib ioredis|node-redis --modules DIR --host IP
//        --port N --log FILE [--conns 16] [--seconds 5] [--seed 1]
//        [--ro 200] [--rw 40] [--ttl 300] [--cnt 8] [--miss 100]
//
// Key classes (the driver, tests/live/clients.py, prefills them):
//   ro:I    prefilled and warmed into the cache, never written: the
//           "GETs of cached keys" whose answered share is reported
//   rw:I    prefilled; SET (unique values) and DEL
//   ttl:I   absent at first; SET with PX 20..400 ms only (many keys, so
//           that most expire before their next SET)
//   cnt:I   prefilled "0"; INCR only
//   miss:I  never set
// The mix: GET ro 50%, GET rw 10%, GET ttl 5%, GET cnt 3%, GET miss 7%,
// SET rw 8%, DEL rw 2%, SET ttl PX 4%, INCR 5%, MGET of 2..5 keys 6%.
//
// Log lines (tab-separated): kind conn batch idx key value ttl_ms t0 t1
//   kind: G (GET), M (one key of an MGET), S (SET), X (SET PX), D (DEL),
//         I (INCR, value = its reply), E (an error reply or exception;
//         value = the message)
//   t0: ns when the batch was issued; t1: ns when this reply arrived
//   (CLOCK_MONOTONIC, process.hrtime.bigint); value "-" is nil.
// stdout: one JSON line {lib, conns, batches, ops, errors, seconds}.
'use strict';
const fs = require('fs');
const path = require('path');

function args() {
	const a = { conns: 16, seconds: 5, seed: 1, ro: 200, rw: 40, ttl: 300, cnt: 8, miss: 100 };
	const v = process.argv.slice(2);
	for (let i = 0; i < v.length; i++) {
		const k = v[i].replace(/^--/, '');
		if (!v[i].startsWith('--') || i + 1 >= v.length)
			usage(`bad argument ${v[i]}`);
		a[k] = v[++i];
	}
	for (const k of ['conns', 'seconds', 'seed', 'ro', 'rw', 'ttl', 'cnt', 'miss', 'port'])
		if (a[k] !== undefined) {
			a[k] = Number(a[k]);
			if (!Number.isFinite(a[k]) || a[k] <= 0)
				usage(`--${k}: a positive number`);
		}
	for (const k of ['lib', 'modules', 'host', 'port', 'log'])
		if (a[k] === undefined)
			usage(`--${k} is required`);
	if (a.lib !== 'ioredis' && a.lib !== 'node-redis')
		usage('--lib ioredis|node-redis');
	return a;
}

function usage(why) {
	process.stderr.write(`clients.js: ${why}\nusage: node clients.js --lib ioredis|node-redis ` +
		'--modules DIR --host IP --port N --log FILE [--conns N] [--seconds S] [--seed N]\n');
	process.exit(2);
}

// mulberry32: a small seeded generator, one per connection
function rng(seed) {
	let s = seed >>> 0;
	return () => {
		s = (s + 0x6d2b79f5) >>> 0;
		let t = s;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const a = args();
const lib = require(path.join(path.resolve(a.modules), a.lib === 'ioredis' ? 'ioredis' : 'redis'));
const now = () => process.hrtime.bigint();

// One adapter per library: the same five commands, replies as strings or
// null (node-redis and ioredis both decode bulk strings as UTF-8; every
// value here is ASCII).
async function open(i) {
	if (a.lib === 'ioredis') {
		const c = new lib({
			host: a.host, port: a.port, enableAutoPipelining: true, lazyConnect: true,
			// one failure is one error: never resent on a new connection
			maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false,
			enableOfflineQueue: false, retryStrategy: () => null,
			connectionName: `clients-${i}`,
		});
		c.on('error', () => {});
		await c.connect();
		return {
			get: (k) => c.get(k), set: (k, v) => c.set(k, v),
			setpx: (k, v, ms) => c.set(k, v, 'PX', ms), del: (k) => c.del(k),
			incr: (k) => c.incr(k), mget: (ks) => c.mget(...ks), quit: () => c.quit(),
		};
	}
	const c = lib.createClient({
		socket: { host: a.host, port: a.port, reconnectStrategy: false },
		disableOfflineQueue: true, name: `clients-${i}`,
	});
	c.on('error', () => {});
	await c.connect();
	return {
		get: (k) => c.get(k), set: (k, v) => c.set(k, v),
		setpx: (k, v, ms) => c.set(k, v, { PX: ms }), del: (k) => c.del(k),
		incr: (k) => c.incr(k), mget: (ks) => c.mGet(ks), quit: () => c.quit(),
	};
}

const out = [];
let errors = 0;
let ops = 0;
let batches = 0;

function pick(r) {
	const x = r();
	const ki = (n) => Math.floor(r() * n);
	if (x < 0.50) return { op: 'get', key: `ro:${ki(a.ro)}` };
	if (x < 0.60) return { op: 'get', key: `rw:${ki(a.rw)}` };
	if (x < 0.65) return { op: 'get', key: `ttl:${ki(a.ttl)}` };
	if (x < 0.68) return { op: 'get', key: `cnt:${ki(a.cnt)}` };
	if (x < 0.75) return { op: 'get', key: `miss:${ki(a.miss)}` };
	if (x < 0.83) return { op: 'set', key: `rw:${ki(a.rw)}` };
	if (x < 0.85) return { op: 'del', key: `rw:${ki(a.rw)}` };
	if (x < 0.89) return { op: 'setpx', key: `ttl:${ki(a.ttl)}`, ttl: 20 + ki(381) };
	if (x < 0.94) return { op: 'incr', key: `cnt:${ki(a.cnt)}` };
	const classes = ['ro', 'ro', 'ro', 'rw', 'ttl', 'cnt', 'miss'];
	const keys = [];
	for (let n = 2 + ki(4); n > 0; n--) {
		const cl = classes[ki(classes.length)];
		keys.push(`${cl}:${ki(a[cl])}`);
	}
	return { op: 'mget', keys };
}

function log(kind, conn, batch, idx, key, value, ttl, t0, t1) {
	const v = value === null || value === undefined ? '-' : String(value).replace(/[\t\n]/g, ' ');
	out.push(`${kind}\t${conn}\t${batch}\t${idx}\t${key}\t${v}\t${ttl || 0}\t${t0}\t${t1}`);
}

async function worker(c, id, end) {
	const r = rng(a.seed * 1000 + id + 1);
	let n = 0;
	for (let b = 0; now() < end; b++) {
		const size = 1 + Math.floor(r() * 12);
		const cmds = [];
		for (let i = 0; i < size; i++)
			cmds.push(pick(r));
		const t0 = now();
		// every command of the batch issued in this tick, none awaited
		const pending = cmds.map((m, idx) => {
			let p;
			let value;
			switch (m.op) {
			case 'get': p = c.get(m.key); break;
			case 'set': value = `v:${a.lib}:${id}:${++n}:` + 'x'.repeat(Math.floor(r() * 80));
				p = c.set(m.key, value); break;
			case 'setpx': value = `t:${a.lib}:${id}:${++n}:` + 'y'.repeat(Math.floor(r() * 40));
				p = c.setpx(m.key, value, m.ttl); break;
			case 'del': p = c.del(m.key); break;
			case 'incr': p = c.incr(m.key); break;
			case 'mget': p = c.mget(m.keys); break;
			}
			return p.then((rep) => {
				const t1 = now();
				switch (m.op) {
				case 'get': log('G', id, b, idx, m.key, rep, 0, t0, t1); break;
				case 'set': case 'setpx':
					if (rep !== 'OK')
						throw new Error(`SET replied ${rep}`);
					log(m.op === 'set' ? 'S' : 'X', id, b, idx, m.key, value, m.ttl, t0, t1);
					break;
				case 'del': log('D', id, b, idx, m.key, null, 0, t0, t1); break;
				case 'incr': log('I', id, b, idx, m.key, rep, 0, t0, t1); break;
				case 'mget':
					m.keys.forEach((k, j) => log('M', id, b, idx, k, rep[j], 0, t0, t1));
					break;
				}
			}).catch((e) => {
				errors++;
				log('E', id, b, idx, m.key || m.keys.join(','), `${m.op}: ${e.message || e}`, 0, t0, now());
			});
		});
		await Promise.all(pending);
		ops += size;
		batches++;
	}
}

async function main() {
	const conns = [];
	for (let i = 0; i < a.conns; i++)
		conns.push(await open(i));
	const t0 = now();
	const end = t0 + BigInt(Math.round(a.seconds * 1e9));
	await Promise.all(conns.map((c, i) => worker(c, i, end)));
	const secs = Number(now() - t0) / 1e9;
	await Promise.all(conns.map((c) => c.quit().catch(() => {})));
	fs.writeFileSync(a.log, out.join('\n') + '\n');
	process.stdout.write(JSON.stringify({
		lib: a.lib, conns: a.conns, batches, ops, errors, seconds: Number(secs.toFixed(2)),
	}) + '\n');
}

main().catch((e) => {
	process.stderr.write(`clients.js: ${e.stack || e}\n`);
	process.exit(1);
});
