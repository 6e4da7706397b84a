"""prestack_lib - Python code shared by experiments/, tests/ and pcaps/.

Scripts put this directory's parent (pylib/) on sys.path and import from
here:

  outcome   `prestack replay` of a scenario, verdict traces, the client's
            byte stream rebuilt from server segments and its classification
  testbed   the testbed's names and addresses, read from
            experiments/testbed.env (the file the shell scripts source)
  provenance  date, machine, kernel, cpu, commit: the first columns of
            every results/ CSV, in that order
  csvio     results/ CSVs: load (renamed columns mapped), save/append
            through a temporary file, Run (a lost cell keeps the old CSV)
  psstats   `prestack stats --json`, deltas, which path answered
  livelock  /tmp/prestack-live.lock, taken unless an ancestor holds it
  faultrun  live runs through the middlebox: sh, nstat, mbx_alive, the mode
            table, lost cells and the --resume sidecar (failures, campaign)
  tap       the TAP ok()/done() of the Python checks under tests/
"""
import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PS = os.path.join(TOP, "build", "prestack")
