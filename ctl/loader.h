/* SPDX-License-Identifier: GPL-2.0 */
/* loader.h - open and load the BPF objects without attaching them: attach
 * uses it, and so will the offline pcap replayer (BPF_PROG_TEST_RUN). */
#ifndef PS_LOADER_H
#define PS_LOADER_H

#include <stdbool.h>
#include "prestack.h"
#include "prestack.skel.h"

int ps_loader_open(struct prestack_bpf **skel, bool verbose);
/* write the config map: mode, flags, port, cache generation */
int ps_config_write(int map_fd, __u32 mode, __u32 flags, __u16 port, __u32 gen);

#endif
