/*
 * Container networking on the host side. When the spec joins a network
 * namespace by path (CNI's, netavark's, `ip netns add`'s), each interface in
 * it but lo gets a tap device next to it, and tc redirects every frame both
 * ways between the two (Kata's "tcfilter"): the VM's NIC stands in for the
 * veth. The guest is then told the interfaces' MACs, addresses and routes.
 */
#pragma once

#include <stdint.h>

#include "conn.h"
#include "error.h"
#include "hypervisor.h"
#include "spec.h"

struct network;

/*
 * Plumbs the spec's network namespace. *ret is NULL when the spec names
 * none by path; with only lo in it, *ret has no NICs. host_owner NULL: taps
 * in the namespace, handed to the VMM as fds. Otherwise (a VMM that opens
 * taps by name, hypervisor_ops.nics_by_name) taps in the host's namespace
 * joined to the interfaces by veth pairs, every host-side device tagged with
 * host_owner (the sandbox's state directory, absolute) for network_sweep().
 * On failure nothing is left in either namespace; errors name the namespace
 * path and the interface.
 */
int network_setup(const struct oci_spec *spec, const char *host_owner, struct network **ret, cocoon_error **err);
/* Removes the host-side devices tagged with host_owner: what a killed supervisor left. */
void network_sweep(const char *host_owner);
/* The NICs for the VM (taps still owned by net). */
size_t network_nics(const struct network *net, const struct vm_nic **ret);
/* Closes our tap fds once the VMM holds them: each tap then lives as long as the VM. */
void network_close_taps(struct network *net);
/* Sends the interfaces and routes to the agent (a configure_network request). */
int network_configure_guest(const struct network *net, struct conn *agent, uint64_t id, cocoon_error **err);
/* Removes the tc qdiscs we added in the namespace, then frees net. NULL is fine. */
void network_free(struct network *net);
