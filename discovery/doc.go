// Package discovery finds Outpost nodes on the local network with
// multicast DNS service discovery (mDNS, RFC 6762; DNS-SD, RFC 6763).
//
// A node advertises its sync endpoint as an instance of the service
// _outpost._tcp.local: a PTR record naming the instance, an SRV record
// with the port, A records with its IPv4 addresses and a TXT record with
// its stable id (the sync storage id), its name, the URL scheme (ws or
// wss) and path. It answers queries for the service and announces itself
// when it starts; it browses by querying for the service (at start, then
// at growing intervals up to a minute) and reports every other instance
// it hears of, from answers and from other nodes' announcements.
//
// It owns the mDNS socket, the record format and the browse schedule. It
// must not know about sync, tokens or documents: what to do with a found
// node is the caller's business (the node dials it as a direct peer).
// Only IPv4 is spoken (224.0.0.251); IPv6 (ff02::fb) is not.
//
// The caller's duties:
//
//  1. Listen with the node's id, name, port, scheme and path, then Run
//     until the node stops; Run sends a goodbye (records with TTL 0) on the
//     way out.
//  2. Treat what Found reports as a hint from anyone on the LAN, not as an
//     identity: the sync connection's token and TLS are what authenticate.
//  3. Decide who dials: two nodes that find each other must not both dial
//     (each connection would replace the other). ShouldDial is the rule.
//
// Packets from the network are parsed by parsePacket, which never panics
// on any input (FuzzParsePacket).
package discovery
