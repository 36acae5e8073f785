//! Cost parameters for new hashes, and limits on the cost of stored ones.

use crate::Error;

/// The OWASP Password Storage Cheat Sheet's argon2id settings, `(m_cost KiB, t_cost)` at
/// `p = 1`. Each row is equally strong; anything at or above one row is accepted by
/// [`Argon2Params::new`].
const OWASP_ARGON2ID: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

/// Argon2id cost parameters for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2Params {
    /// The OWASP minimum and this crate's default: m = 19456 KiB (19 MiB), t = 2, p = 1.
    pub const OWASP: Self = Self {
        m_cost: 19_456,
        t_cost: 2,
        p_cost: 1,
    };

    /// Parameters at least as strong as one of the OWASP settings: (m ≥ 47104, t ≥ 1),
    /// (m ≥ 19456, t ≥ 2), (m ≥ 12288, t ≥ 3), (m ≥ 9216, t ≥ 4) or (m ≥ 7168, t ≥ 5);
    /// `m_cost` in KiB.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the parameters are weaker than every OWASP setting, or are not
    /// valid argon2 parameters (`p_cost` of 0, `m_cost` below `8 * p_cost`).
    pub fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, Error> {
        if !OWASP_ARGON2ID
            .iter()
            .any(|&(m, t)| m_cost >= m && t_cost >= t)
        {
            return Err(Error::Config(format!(
                "argon2id m={m_cost} KiB, t={t_cost} is below the OWASP minimum (for example \
                 m=19456, t=2); use Argon2Params::dangerous_weak only in tests"
            )));
        }
        Self::dangerous_weak(m_cost, t_cost, p_cost)
    }

    /// Parameters below the OWASP minimum, for tests and benchmarks that need cheap hashes.
    /// Never use them for real passwords.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the parameters are not valid argon2 parameters.
    pub fn dangerous_weak(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, Error> {
        argon2::Params::new(m_cost, t_cost, p_cost, None).map_err(|e| {
            Error::Config(format!(
                "argon2 parameters m={m_cost}, t={t_cost}, p={p_cost}: {e}"
            ))
        })?;
        Ok(Self {
            m_cost,
            t_cost,
            p_cost,
        })
    }

    /// Memory cost in KiB.
    #[must_use]
    pub const fn m_cost(&self) -> u32 {
        self.m_cost
    }

    /// Number of passes.
    #[must_use]
    pub const fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Degree of parallelism (lanes).
    #[must_use]
    pub const fn p_cost(&self) -> u32 {
        self.p_cost
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// A bcrypt cost (log2 of the number of rounds) for new bcrypt hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BcryptCost(u32);

impl BcryptCost {
    /// The OWASP minimum, 10.
    pub const MIN: u32 = 10;
    /// bcrypt's own maximum, 31.
    pub const MAX: u32 = 31;
    /// The default, 12.
    pub const DEFAULT: Self = Self(12);

    /// A cost between [`BcryptCost::MIN`] and [`BcryptCost::MAX`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] outside that range.
    pub fn new(cost: u32) -> Result<Self, Error> {
        if !(Self::MIN..=Self::MAX).contains(&cost) {
            return Err(Error::Config(format!(
                "bcrypt cost {cost} is outside {}..={} (OWASP asks for at least {})",
                Self::MIN,
                Self::MAX,
                Self::MIN
            )));
        }
        Ok(Self(cost))
    }

    /// A cost from bcrypt's own minimum, 4, up: for tests and benchmarks only.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] outside 4..=31.
    pub fn dangerous_weak(cost: u32) -> Result<Self, Error> {
        if !(4..=Self::MAX).contains(&cost) {
            return Err(Error::Config(format!(
                "bcrypt cost {cost} is outside 4..=31"
            )));
        }
        Ok(Self(cost))
    }

    /// The cost.
    #[must_use]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl Default for BcryptCost {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The most work one stored hash may ask of a verify.
///
/// A stored hash carries its own cost parameters; a damaged or planted row could ask for
/// gigabytes of memory or hours of bcrypt rounds. Hashes over these limits fail with
/// [`Error::TooExpensive`] before any work is done. The hasher's own parameters are always
/// within its limits (the builder raises the limits to meet them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyLimits {
    max_m_cost: u32,
    max_t_cost: u32,
    max_p_cost: u32,
    max_bcrypt_cost: u32,
}

impl VerifyLimits {
    /// The defaults: argon2 m ≤ 262144 KiB (256 MiB), t ≤ 16, p ≤ 16; bcrypt cost ≤ 16.
    pub const DEFAULT: Self = Self {
        max_m_cost: 262_144,
        max_t_cost: 16,
        max_p_cost: 16,
        max_bcrypt_cost: 16,
    };

    /// Sets the largest argon2 memory cost, in KiB.
    #[must_use]
    pub const fn max_m_cost(mut self, kib: u32) -> Self {
        self.max_m_cost = kib;
        self
    }

    /// Sets the largest argon2 number of passes.
    #[must_use]
    pub const fn max_t_cost(mut self, passes: u32) -> Self {
        self.max_t_cost = passes;
        self
    }

    /// Sets the largest argon2 parallelism.
    #[must_use]
    pub const fn max_p_cost(mut self, lanes: u32) -> Self {
        self.max_p_cost = lanes;
        self
    }

    /// Sets the largest bcrypt cost.
    #[must_use]
    pub const fn max_bcrypt_cost(mut self, cost: u32) -> Self {
        self.max_bcrypt_cost = cost;
        self
    }

    pub(crate) fn check_argon2(&self, m: u32, t: u32, p: u32) -> Result<(), Error> {
        let over = |what: &str, value: u32, max: u32| {
            Err(Error::TooExpensive(format!(
                "argon2 {what}={value} is over the limit {max}"
            )))
        };
        if m > self.max_m_cost {
            return over("m", m, self.max_m_cost);
        }
        if t > self.max_t_cost {
            return over("t", t, self.max_t_cost);
        }
        if p > self.max_p_cost {
            return over("p", p, self.max_p_cost);
        }
        Ok(())
    }

    pub(crate) fn check_bcrypt(&self, cost: u32) -> Result<(), Error> {
        if cost > self.max_bcrypt_cost {
            return Err(Error::TooExpensive(format!(
                "bcrypt cost {cost} is over the limit {}",
                self.max_bcrypt_cost
            )));
        }
        Ok(())
    }

    /// These limits, raised where needed so hashes made with `scheme` verify.
    pub(crate) fn admitting(mut self, scheme: &crate::hasher::Scheme) -> Self {
        match scheme {
            crate::hasher::Scheme::Argon2id(p) => {
                self.max_m_cost = self.max_m_cost.max(p.m_cost);
                self.max_t_cost = self.max_t_cost.max(p.t_cost);
                self.max_p_cost = self.max_p_cost.max(p.p_cost);
            }
            crate::hasher::Scheme::Bcrypt(cost) => {
                self.max_bcrypt_cost = self.max_bcrypt_cost.max(cost.get());
            }
        }
        self
    }
}

impl Default for VerifyLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_owasp_row_is_accepted_and_just_below_is_not() {
        for (m, t) in OWASP_ARGON2ID {
            assert!(Argon2Params::new(m, t, 1).is_ok(), "m={m} t={t}");
        }
        assert!(Argon2Params::new(19_455, 2, 1).is_err());
        assert!(Argon2Params::new(47_103, 1, 1).is_err());
        assert!(Argon2Params::new(7_167, 5, 1).is_err());
        assert!(Argon2Params::new(19_456, 1, 1).is_err());
        assert!(Argon2Params::new(65_536, 3, 4).is_ok());
    }

    #[test]
    fn invalid_argon2_parameters_are_refused_even_when_weak_is_asked_for() {
        assert!(Argon2Params::dangerous_weak(8, 1, 1).is_ok());
        assert!(Argon2Params::dangerous_weak(8, 0, 1).is_err());
        assert!(Argon2Params::dangerous_weak(8, 1, 0).is_err());
        assert!(Argon2Params::dangerous_weak(15, 1, 2).is_err());
    }

    #[test]
    fn bcrypt_costs_follow_owasp_unless_asked_otherwise() {
        assert!(BcryptCost::new(9).is_err());
        assert_eq!(BcryptCost::new(10).unwrap().get(), 10);
        assert!(BcryptCost::new(32).is_err());
        assert_eq!(BcryptCost::dangerous_weak(4).unwrap().get(), 4);
        assert!(BcryptCost::dangerous_weak(3).is_err());
    }

    #[test]
    fn limits_refuse_costly_hashes() {
        let limits = VerifyLimits::DEFAULT;
        assert!(limits.check_argon2(262_144, 16, 16).is_ok());
        assert!(matches!(
            limits.check_argon2(262_145, 1, 1),
            Err(Error::TooExpensive(_))
        ));
        assert!(limits.check_argon2(8, 17, 1).is_err());
        assert!(limits.check_argon2(8, 1, 17).is_err());
        assert!(limits.check_bcrypt(16).is_ok());
        assert!(limits.check_bcrypt(17).is_err());
    }
}
