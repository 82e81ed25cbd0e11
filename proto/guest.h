/*
 * The names host and guest must agree on, beside the messages themselves:
 * the agent, the QEMU backend and the supervisor all take them from here.
 */
#pragma once

#define GUEST_SHARED_DIR "/run/cocoon/shared" /* where the agent mounts the sandbox's virtio-fs share */
#define GUEST_VIRTIOFS_TAG "cocoon"           /* the share's virtio-fs tag */
#define GUEST_SERIAL_PORT "cocoon.agent"      /* virtio-serial port name of the agent link */
#define GUEST_VSOCK_PORT 1024                 /* vsock port the agent listens on */
/* Kernel command line word that names the transport: serial or vsock. */
#define GUEST_TRANSPORT_ARG "cocoon.transport="
