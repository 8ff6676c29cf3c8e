//! The TCP sockets listening on this machine, from `/proc/net/tcp` and `/proc/net/tcp6`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A listening TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Listener {
    /// The local address (`0.0.0.0` or `::` for every interface).
    pub addr: IpAddr,
    /// The port.
    pub port: u16,
}

impl Listener {
    /// Whether only this machine can reach it.
    pub fn loopback_only(&self) -> bool {
        match self.addr {
            IpAddr::V4(a) => a.is_loopback(),
            IpAddr::V6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        }
    }
}

/// The state number of a listening socket in `/proc/net/tcp`.
const TCP_LISTEN: &str = "0A";

/// Parses `/proc/net/tcp` or `/proc/net/tcp6`: the listening sockets. Lines that do not parse
/// are skipped.
pub fn parse_proc_net_tcp(text: &str) -> Vec<Listener> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut f = line.split_whitespace();
        let (Some(_sl), Some(local), Some(_remote), Some(state)) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        if state != TCP_LISTEN {
            continue;
        }
        let Some((addr, port)) = local.split_once(':') else { continue };
        let Ok(port) = u16::from_str_radix(port, 16) else { continue };
        let addr = match addr.len() {
            8 => u32::from_str_radix(addr, 16).ok().map(|n| IpAddr::V4(Ipv4Addr::from(u32::from_be(n)))),
            32 => {
                // Four 32-bit words, each in host (little-endian) order.
                let mut bytes = [0u8; 16];
                let ok = (0..4).all(|w| {
                    u32::from_str_radix(&addr[w * 8..w * 8 + 8], 16)
                        .map(|n| bytes[w * 4..w * 4 + 4].copy_from_slice(&n.to_le_bytes()))
                        .is_ok()
                });
                ok.then(|| IpAddr::V6(Ipv6Addr::from(bytes)))
            }
            _ => None,
        };
        if let Some(addr) = addr {
            out.push(Listener { addr, port });
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listening_sockets_of_both_families_and_skips_the_rest() {
        let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 00000000:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
           1: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n\
           2: 0100007F:1388 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n\
           garbage\n";
        let l = parse_proc_net_tcp(v4);
        assert_eq!(l.len(), 2, "{l:?}");
        assert_eq!(l[0], Listener { addr: "0.0.0.0".parse().unwrap(), port: 5555 });
        assert!(!l[0].loopback_only());
        assert_eq!(l[1], Listener { addr: "127.0.0.1".parse().unwrap(), port: 5000 });
        assert!(l[1].loopback_only());
        let v6 = "  sl  local_address                         remote_address                        st\n\
           0: 00000000000000000000000001000000:2243 00000000000000000000000000000000:0000 0A 0\n\
           1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 0\n";
        let l = parse_proc_net_tcp(v6);
        assert_eq!(l[0], Listener { addr: "::".parse().unwrap(), port: 443 });
        assert_eq!(l[1], Listener { addr: "::1".parse().unwrap(), port: 8771 });
        assert!(l[1].loopback_only());
    }
}
