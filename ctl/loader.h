/* SPDX-License-Identifier: GPL-2.0 */
/* loader.h - open and load the BPF objects without attaching them: attach
 * uses it, and so does the offline pcap replayer (BPF_PROG_TEST_RUN). */
#ifndef PS_LOADER_H
#define PS_LOADER_H

#include "prestack.h"
#include "prestack.skel.h"

/* pin_root: the attachment's dir, where libbpf pins the maps xdp/maps.h
 * declares LIBBPF_PIN_BY_NAME (it must exist and hold no pins); NULL:
 * nothing pinned, the maps are this process's own. flow_entries and
 * rtx_entries resize ps_flows and the retransmission maps (ps_rtx,
 * ps_tcr_refs, ps_tcr_asm); 0 keeps PS_FLOW_ENTRIES / PS_RTX_ENTRIES.
 * Prints why on failure. */
int ps_loader_open(struct prestack_bpf **skel, const char *pin_root, __u32 flow_entries,
		   __u32 rtx_entries);
/* write the config map: mode, flags, port, cache generation */
int ps_config_write(int map_fd, __u32 mode, __u32 flags, __u16 port, __u32 gen);

#endif
