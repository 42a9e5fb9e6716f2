//! Test support shared by the engine's unit tests and the differential test against Go
//! (`host/tests/integration/go_template_diff.rs`); not part of the engine's API.

/// xorshift64* PRNG: deterministic (a failing case reproduces), no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for generating test input.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
