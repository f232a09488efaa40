//! The simulator's one source of randomness: small, seeded and stable.
//!
//! A scenario run with the same seed must produce the same messages on every machine and
//! with every future build, so the generator is written out here (SplitMix64) rather
//! than taken from a crate whose algorithm may change between versions. Independent
//! streams are derived by name ([`Rng::derive`]), so that adding a topic or a scenario
//! step does not shift the values every other stream draws.

/// A deterministic pseudo-random generator (SplitMix64).
///
/// ```
/// let mut a = sim::Rng::new(7);
/// let mut b = sim::Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert_ne!(sim::Rng::new(7).derive("x").next_u64(), sim::Rng::new(7).derive("y").next_u64());
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng {
            state: mix(seed ^ GOLDEN),
        }
    }

    /// An independent stream named `label`, drawn from this one's seed (not its position).
    pub fn derive(&self, label: &str) -> Rng {
        // FNV-1a over the label, mixed with this stream's state.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in label.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng {
            state: mix(self.state ^ h),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// A uniform draw from `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform integer in `[low, high]` (`low` when the range is empty).
    pub fn int(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            return low;
        }
        let span = (high - low) as u64 + 1;
        low + (self.next_u64() % span) as i64
    }

    /// A uniform index below `len` (0 for an empty range).
    pub fn index(&mut self, len: usize) -> usize {
        if len == 0 {
            0
        } else {
            (self.next_u64() % len as u64) as usize
        }
    }

    /// A uniform float in `[low, high)`.
    pub fn float(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// An exponentially distributed wait with the given mean (a Poisson process's gaps).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// A random (version 4 layout) UUID, lowercase.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` random bytes as lowercase hex.
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n * 2);
        while out.len() < n * 2 {
            let v = self.next_u64();
            for i in 0..8 {
                if out.len() == n * 2 {
                    break;
                }
                out.push_str(&format!("{:02x}", (v >> (i * 8)) & 0xff));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_derived_streams_differ() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(Rng::new(43).next_u64(), xs[0]);
        // Deriving does not depend on how far the parent has advanced.
        let parent = Rng::new(42);
        let mut moved = Rng::new(42);
        moved.next_u64();
        assert_eq!(
            parent.derive("alarms").next_u64(),
            Rng::new(42).derive("alarms").next_u64()
        );
        assert_ne!(
            moved.derive("alarms").next_u64(),
            parent.derive("alarms").next_u64()
        );
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            let i = r.int(-3, 3);
            assert!((-3..=3).contains(&i));
            assert!(r.index(5) < 5);
            assert!(r.exponential(2.0) >= 0.0);
        }
        assert_eq!(r.int(5, 5), 5);
        assert_eq!(r.index(0), 0);
    }

    #[test]
    fn uuids_have_the_uuid_shape() {
        let mut r = Rng::new(9);
        for _ in 0..100 {
            let u = r.uuid();
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(u.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
            assert_eq!(&parts[2][..1], "4");
        }
        assert_eq!(r.hex(5).len(), 10);
    }
}
