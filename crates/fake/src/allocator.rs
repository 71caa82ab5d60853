//! ClusterIP allocation from the service CIDR, as the API server's allocator does it, but
//! deterministically: a Service's first candidate is derived from a stable hash of
//! `namespace/name`, so the IP it gets does not depend on the order Services were created in
//! (unless two of them collide and one has to probe further).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use svcmirror_core::model::ObjectKey;

/// Why a requested ClusterIP cannot be reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not inside the service CIDR, or one of its reserved addresses.
    OutOfRange,
    /// Held by another Service.
    Taken,
    /// Every usable address is held.
    Full,
}

/// The ClusterIPs of one cluster: the range and who holds what.
#[derive(Debug, Clone)]
pub(crate) struct ClusterIpAllocator {
    cidr: IpNet,
    held: BTreeMap<IpAddr, ObjectKey>,
}

impl ClusterIpAllocator {
    pub(crate) fn new(cidr: IpNet) -> Self {
        Self {
            cidr: cidr.trunc(),
            held: BTreeMap::new(),
        }
    }

    pub(crate) fn cidr(&self) -> IpNet {
        self.cidr
    }

    /// Offsets from the network address that may be handed out: `[first, end)`. Offset 0 (the
    /// network address) and 1 (reserved for the `kubernetes` Service) never are; neither is the
    /// IPv4 broadcast address.
    fn usable(&self) -> (u128, u128) {
        let host_bits = u32::from(self.cidr.max_prefix_len() - self.cidr.prefix_len());
        let size = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
        let end = match self.cidr {
            IpNet::V4(_) => size.saturating_sub(1),
            IpNet::V6(_) => size,
        };
        (2, end.max(2))
    }

    fn offset_of(&self, ip: IpAddr) -> Option<u128> {
        if !self.cidr.contains(&ip) {
            return None;
        }
        match (self.cidr.network(), ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => Some(u128::from(u32::from(i) - u32::from(n))),
            (IpAddr::V6(n), IpAddr::V6(i)) => Some(u128::from(i) - u128::from(n)),
            _ => None,
        }
    }

    fn ip_at(&self, offset: u128) -> IpAddr {
        match self.cidr.network() {
            IpAddr::V4(n) => {
                // The offset is below 2^32 - u32(n) because it lies inside an IPv4 network.
                let v = u128::from(u32::from(n)) + offset;
                IpAddr::V4(Ipv4Addr::from(u32::try_from(v).unwrap_or(u32::MAX)))
            }
            IpAddr::V6(n) => IpAddr::V6(Ipv6Addr::from(u128::from(n).wrapping_add(offset))),
        }
    }

    /// Reserves `ip` for `owner`, as when a Service is created with `spec.clusterIP` set. The
    /// first address after the network address belongs to `default/kubernetes` (as in every real
    /// cluster): only that Service may take it, and to everyone else it is already allocated.
    pub(crate) fn reserve(&mut self, ip: IpAddr, owner: &ObjectKey) -> Result<(), Refusal> {
        let (first, end) = self.usable();
        let offset = self.offset_of(ip).ok_or(Refusal::OutOfRange)?;
        if offset == 1 && end > first {
            if owner.namespace != "default" || owner.name != "kubernetes" {
                return Err(Refusal::Taken);
            }
        } else if offset < first || offset >= end {
            return Err(Refusal::OutOfRange);
        }
        if self.held.contains_key(&ip) {
            return Err(Refusal::Taken);
        }
        self.held.insert(ip, owner.clone());
        Ok(())
    }

    /// Allocates a free IP for `owner`: start at `hash(namespace/name) mod size`, probe upwards
    /// (wrapping around). Probing never takes more steps than there are held addresses.
    pub(crate) fn allocate(&mut self, owner: &ObjectKey) -> Result<IpAddr, Refusal> {
        let (first, end) = self.usable();
        let count = end - first;
        if count == 0 || self.held.len() as u128 >= count {
            return Err(Refusal::Full);
        }
        let start = u128::from(fnv1a64(&format!("{}/{}", owner.namespace, owner.name))) % count;
        let mut i = start;
        loop {
            let ip = self.ip_at(first + i);
            if let std::collections::btree_map::Entry::Vacant(slot) = self.held.entry(ip) {
                slot.insert(owner.clone());
                return Ok(ip);
            }
            i = (i + 1) % count;
            if i == start {
                return Err(Refusal::Full);
            }
        }
    }

    /// Frees `ip` (a Service holding it was deleted).
    pub(crate) fn release(&mut self, ip: IpAddr) {
        self.held.remove(&ip);
    }
}

/// FNV-1a, 64 bit: fixed by its definition, so allocations are the same on every platform and
/// release.
fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey::new("default", name)
    }

    #[test]
    fn allocation_is_a_function_of_the_name_not_the_order() {
        let cidr: IpNet = "10.43.0.0/16".parse().unwrap();
        let mut a = ClusterIpAllocator::new(cidr);
        let mut b = ClusterIpAllocator::new(cidr);
        let x1 = a.allocate(&key("x")).unwrap();
        let y1 = a.allocate(&key("y")).unwrap();
        let y2 = b.allocate(&key("y")).unwrap();
        let x2 = b.allocate(&key("x")).unwrap();
        assert_eq!((x1, y1), (x2, y2));
        assert_ne!(x1, y1);
    }

    #[test]
    fn a_tiny_range_skips_network_dot_one_and_broadcast_then_fills_up() {
        // 10.0.0.0/29: .0 network, .1 kubernetes, .7 broadcast => .2 to .6 usable.
        let mut a = ClusterIpAllocator::new("10.0.0.0/29".parse().unwrap());
        let mut got: Vec<IpAddr> = (0..5)
            .map(|i| a.allocate(&key(&format!("s{i}"))).unwrap())
            .collect();
        got.sort();
        let want: Vec<IpAddr> = (2..=6)
            .map(|i| format!("10.0.0.{i}").parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert_eq!(a.allocate(&key("one-too-many")), Err(Refusal::Full));
        a.release("10.0.0.4".parse().unwrap());
        assert_eq!(a.allocate(&key("again")), Ok("10.0.0.4".parse().unwrap()));
    }

    #[test]
    fn reserve_refuses_reserved_foreign_and_taken_addresses() {
        let mut a = ClusterIpAllocator::new("10.0.0.0/29".parse().unwrap());
        for ip in ["10.0.0.0", "10.0.0.7", "10.0.0.8", "fd00::2"] {
            assert_eq!(
                a.reserve(ip.parse().unwrap(), &key("s")),
                Err(Refusal::OutOfRange),
                "{ip}"
            );
        }
        let dot_one = "10.0.0.1".parse().unwrap();
        assert_eq!(a.reserve(dot_one, &key("s")), Err(Refusal::Taken));
        assert_eq!(a.reserve(dot_one, &key("kubernetes")), Ok(()));
        assert_eq!(a.reserve(dot_one, &key("kubernetes")), Err(Refusal::Taken));
        assert_eq!(a.reserve("10.0.0.6".parse().unwrap(), &key("s")), Ok(()));
        assert_eq!(
            a.reserve("10.0.0.6".parse().unwrap(), &key("t")),
            Err(Refusal::Taken)
        );
    }

    #[test]
    fn ipv6_ranges_allocate_inside_the_prefix_and_slash_32_is_full() {
        let cidr: IpNet = "fd00:10:96::/112".parse().unwrap();
        let mut a = ClusterIpAllocator::new(cidr);
        let ip = a.allocate(&key("web")).unwrap();
        assert!(cidr.contains(&ip) && ip.is_ipv6(), "{ip}");
        let mut whole = ClusterIpAllocator::new("::/0".parse().unwrap());
        assert!(whole.allocate(&key("web")).is_ok());
        let mut none = ClusterIpAllocator::new("10.0.0.4/32".parse().unwrap());
        assert_eq!(none.allocate(&key("web")), Err(Refusal::Full));
    }
}
