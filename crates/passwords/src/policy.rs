//! Password policy: length and common passwords, with reasons.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::Error;

/// One reason a password was refused by a [`Policy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Fewer characters than the minimum.
    TooShort {
        /// The minimum number of characters.
        min: usize,
    },
    /// More characters than the maximum.
    TooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// The password, ignoring case, common letter-for-digit substitutions and reversal, is
    /// on the list of commonly used passwords.
    Common,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "too short: use at least {min} characters"),
            Self::TooLong { max } => write!(f, "too long: use at most {max} characters"),
            Self::Common => f.write_str("too common: it is on a list of frequently used passwords"),
        }
    }
}

/// What a new password must satisfy, following ASVS 5.0 V6.2 and NIST SP 800-63B: a
/// length range and no commonly used password; no composition rules.
///
/// Characters are counted as Unicode scalar values after NFKC normalization (the same
/// normalization [`Hasher`](crate::Hasher) applies by default), so `é` counts once whether
/// it was typed composed or decomposed. The minimum must also hold before compatibility
/// mappings (in NFC), so that a symbol NFKC expands into many characters (`ﷺ` into
/// eighteen, `⑽` into four) counts once. Spaces and every Unicode character are allowed.
///
/// Common passwords are judged by the [`zxcvbn`](https://docs.rs/zxcvbn) crate (a Rust
/// port of Dropbox's estimator): a password is refused when zxcvbn sees the whole of it
/// as one common thing, as NIST SP 800-63B 5.1.1.2 lists them: one entry of its
/// 30,000-entry password dictionary, including case, l33t and reversed variants
/// (`Password1`, `p@ssw0rd`, `drowssap`); one of the 2,000 most frequent entries of its
/// names, surnames, film and TV, and English lists (`jennifer`, `chocolate`); or one
/// repeat, sequence, keyboard walk or date (`00000000`, `987654321`, `1qaz2wsx3edc`).
///
/// # Cost
///
/// The check takes untrusted input, so its work is bounded. Input longer than 16 bytes
/// per allowed character is refused as [`Violation::TooLong`] before it is normalized
/// (no text that long can normalize to `max_chars` characters). zxcvbn, whose l33t
/// matching costs up to a second on a 256-character input, runs only on passwords of
/// at most 20 characters, the length of the longest entry on its list: a longer password
/// cannot be one entry. Its worst case is then a few tens of milliseconds (a 20-character
/// password made of l33t characters; bench `password/policy check`), about one argon2
/// hash: from async code, run it on the [`HashingPool`](crate::HashingPool) with
/// [`HashingPool::check_policy`](crate::HashingPool::check_policy), or on
/// `tokio::task::spawn_blocking`, never on the runtime's own threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    min_chars: usize,
    max_chars: usize,
    reject_common: bool,
}

impl Policy {
    /// The smallest minimum allowed (ASVS 6.2.1).
    pub const MIN_CHARS: usize = 8;
    /// The largest maximum allowed. 256 characters of NFKC text are at most 1024 bytes, so
    /// a [`Hasher`](crate::Hasher) with the default [`Normalization::Nfkc`] can hash every
    /// password the policy accepts. With [`Normalization::None`] the hasher takes the text
    /// as typed, which can be longer than its normalized form (`e` + U+0301 is one
    /// character here, two as typed): [`Hasher::hash`](crate::Hasher::hash) then refuses a
    /// text over [`MAX_PASSWORD_LEN`](crate::MAX_PASSWORD_LEN) bytes with
    /// [`Error::PasswordTooLong`].
    ///
    /// [`Normalization::Nfkc`]: crate::Normalization::Nfkc
    /// [`Normalization::None`]: crate::Normalization::None
    pub const MAX_CHARS_LIMIT: usize = 256;
    /// The smallest maximum allowed (ASVS 6.2.9: at least 64 characters must be permitted).
    pub const MAX_CHARS_FLOOR: usize = 64;

    /// The default: 8 to 128 characters, common passwords refused.
    #[must_use]
    pub fn new() -> Self {
        Self {
            min_chars: Self::MIN_CHARS,
            max_chars: 128,
            reject_common: true,
        }
    }

    /// A builder starting from [`Policy::new`].
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder(Self::new())
    }

    /// Checks a candidate password. It can take tens of milliseconds (see "Cost" above):
    /// keep it off the async runtime's threads.
    ///
    /// # Errors
    ///
    /// Every [`Violation`] that applies, in a stable order (length first).
    pub fn check(&self, password: &str) -> Result<(), Vec<Violation>> {
        if self.is_over_input_bound(password) {
            return Err(vec![Violation::TooLong {
                max: self.max_chars,
            }]);
        }
        let normalized = crate::normalize::nfkc(password);
        let chars = normalized.chars().count();
        // The minimum holds for the text as typed (composed, NFC) as well: compatibility
        // mappings expand one symbol into many characters (U+FDFA into eighteen, `⑽`
        // into four), which would let one or two typed symbols pass as eight characters.
        let typed = password.nfc().count();
        let mut violations = Vec::new();
        if chars.min(typed) < self.min_chars {
            violations.push(Violation::TooShort {
                min: self.min_chars,
            });
        }
        if chars > self.max_chars {
            violations.push(Violation::TooLong {
                max: self.max_chars,
            });
        } else if self.reject_common && chars <= COMMON_LIST_LONGEST && is_common(&normalized) {
            // Only up to the list's longest entry: zxcvbn's cost grows quickly with the
            // length, and a longer password cannot be one entry.
            violations.push(Violation::Common);
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// The minimum number of characters.
    #[must_use]
    pub fn min_chars(&self) -> usize {
        self.min_chars
    }

    /// The maximum number of characters.
    #[must_use]
    pub fn max_chars(&self) -> usize {
        self.max_chars
    }

    /// Whether `password` is too long in bytes to normalize to `max_chars` characters.
    ///
    /// NFKC turns at most four code points into one: a composed character's canonical
    /// decomposition is at most four code points long, and no code point decomposes to
    /// nothing (a unit test checks both over all of Unicode). A code point is at most four
    /// bytes of UTF-8. So text over `16 * max_chars` bytes has more than `max_chars`
    /// characters after NFKC, whatever it holds, and can be refused without normalizing it.
    pub(crate) fn is_over_input_bound(&self, password: &str) -> bool {
        password.len() > self.max_chars.saturating_mul(MAX_BYTES_PER_CHAR)
    }
}

/// Bytes of input that can normalize to one character: four code points of four bytes.
const MAX_BYTES_PER_CHAR: usize = 4 * 4;

/// The length in characters of the longest entry on zxcvbn 3's password list
/// (`q1w2e3r4t5y6u7i8o9p0` and two others). The list is ASCII, and zxcvbn matches a
/// password's characters one for one against an entry (lower case, l33t substitution and
/// reversal all keep the length), so a password with more characters is never one entry.
/// A test checks that the longest entries are still refused.
const COMMON_LIST_LONGEST: usize = 20;

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

/// Configures a [`Policy`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until built"]
pub struct PolicyBuilder(Policy);

impl PolicyBuilder {
    /// The minimum number of characters (at least [`Policy::MIN_CHARS`]; default 8).
    pub fn min_chars(mut self, min: usize) -> Self {
        self.0.min_chars = min;
        self
    }

    /// The maximum number of characters (between [`Policy::MAX_CHARS_FLOOR`] and
    /// [`Policy::MAX_CHARS_LIMIT`]; default 128).
    pub fn max_chars(mut self, max: usize) -> Self {
        self.0.max_chars = max;
        self
    }

    /// Whether to refuse passwords on the common-password list (default: yes).
    pub fn reject_common(mut self, reject: bool) -> Self {
        self.0.reject_common = reject;
        self
    }

    /// Builds the policy.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the minimum is under 8, the maximum is outside 64..=256, or
    /// the minimum exceeds the maximum.
    pub fn build(self) -> Result<Policy, Error> {
        let Policy {
            min_chars,
            max_chars,
            ..
        } = self.0;
        if min_chars < Policy::MIN_CHARS {
            return Err(Error::Config(format!(
                "policy minimum {min_chars} is under {} characters",
                Policy::MIN_CHARS
            )));
        }
        if !(Policy::MAX_CHARS_FLOOR..=Policy::MAX_CHARS_LIMIT).contains(&max_chars) {
            return Err(Error::Config(format!(
                "policy maximum {max_chars} is outside {}..={} characters",
                Policy::MAX_CHARS_FLOOR,
                Policy::MAX_CHARS_LIMIT
            )));
        }
        if min_chars > max_chars {
            return Err(Error::Config(format!(
                "policy minimum {min_chars} exceeds its maximum {max_chars}"
            )));
        }
        Ok(self.0)
    }
}

/// Ranks at or below this in zxcvbn's other word lists (names, surnames, film and TV,
/// English) count as common: `jennifer`, `chocolate` and `information` are, while an
/// English word as rare as `photosynthesis` (rank 12 867) is not.
const COMMON_WORD_RANK: usize = 2_000;

/// Whether zxcvbn sees the whole password as one common thing: an entry of its
/// common-password list, a frequent name or word, or one pattern (a repeat such as
/// `00000000`, a sequence such as `987654321`, a keyboard walk, a date). NIST SP 800-63B
/// 5.1.1.2 names each of these as blocklist material.
fn is_common(password: &str) -> bool {
    use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};
    // zxcvbn keeps its dictionary type in a private module; its `Default` is the password
    // list (the tests below fail if that ever changes).
    let passwords_list = DictionaryPattern::default().dictionary_name;
    let estimate = zxcvbn::zxcvbn(password, &[]);
    match estimate.sequence() {
        [only] => match &only.pattern {
            MatchPattern::Dictionary(d) => {
                d.dictionary_name == passwords_list || d.rank <= COMMON_WORD_RANK
            }
            MatchPattern::Repeat(_)
            | MatchPattern::Sequence(_)
            | MatchPattern::Spatial(_)
            | MatchPattern::Date(_) => true,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_and_their_variants_are_refused() {
        let policy = Policy::new();
        for common in [
            "password",
            "Password1",
            "p@ssw0rd",
            "qwertyuiop",
            "iloveyou",
            "drowssap",
            // Repeats, sequences and keyboard walks.
            "00000000",
            "aaaaaaaa",
            "12341234",
            "123123123",
            "987654321",
            "0123456789",
            "abcdefgh",
            "1qaz2wsx3edc",
            // Frequent names and words from zxcvbn's other lists.
            "jennifer",
            "patricia",
            "christopher",
            "chocolate",
            "sweetheart",
            "information",
        ] {
            let reasons = policy.check(common).unwrap_err();
            assert!(
                reasons.contains(&Violation::Common),
                "{common}: {reasons:?}"
            );
        }
        assert!(policy.check("correct horse battery staple").is_ok());
        assert!(policy.check("vYq4!mT9#wK2").is_ok());
        // A whole-word match in one of zxcvbn's other dictionaries is not a common password.
        assert!(policy.check("photosynthesis").is_ok());
    }

    #[test]
    fn length_is_counted_in_characters_after_nfkc_and_the_minimum_as_typed_too() {
        let policy = Policy::new();
        // Eight accented letters, decomposed: sixteen code points before NFKC, eight after.
        // (Different letters: eight of one would be a repeat, a common password.)
        let decomposed = "e\u{301}a\u{300}u\u{308}o\u{302}i\u{308}c\u{327}n\u{303}y\u{301}";
        assert_eq!(decomposed.chars().count(), 16);
        assert!(policy.check(decomposed).is_ok());
        let seven: String = decomposed.chars().take(14).collect();
        assert_eq!(
            policy.check(&seven),
            Err(vec![Violation::TooShort { min: 8 }])
        );
        // One or two symbols that NFKC expands to eight characters or more are still one
        // or two characters as typed.
        for expanding in ["\u{fdfa}", "\u{247d}\u{247d}", "\u{2167}\u{2167}"] {
            assert!(expanding.nfkc().count() >= 8, "{expanding}");
            // (Two of one symbol also make a repeat: common as well.)
            let reasons = policy.check(expanding).unwrap_err();
            assert!(
                reasons.contains(&Violation::TooShort { min: 8 }),
                "{expanding}: {reasons:?}"
            );
        }
        // Halfwidth katakana with a halfwidth voicing mark: two code points as typed, one
        // character after NFKC, the form that is hashed.
        // (Distinct letters in no order and ideographs apart: a run of one would be a
        // repeat, and letters in code point order a sequence.)
        let voiced = |n: usize| -> String {
            [
                '\u{ff76}', '\u{ff7c}', '\u{ff78}', '\u{ff82}', '\u{ff7a}', '\u{ff80}', '\u{ff7e}',
                '\u{ff84}',
            ]
            .into_iter()
            .take(n)
            .flat_map(|kana| [kana, '\u{ff9e}'])
            .collect()
        };
        assert_eq!(
            policy.check(&voiced(7)),
            Err(vec![Violation::TooShort { min: 8 }])
        );
        assert_eq!(policy.check(&voiced(8)), Ok(()));
        let ideographs = |n: u32| -> String {
            (0..n)
                .map(|i| char::from_u32(0x4e00 + i * 7).expect("an ideograph"))
                .collect()
        };
        assert_eq!(policy.check(&ideographs(128)), Ok(()));
        assert_eq!(
            policy.check(&ideographs(129)),
            Err(vec![Violation::TooLong { max: 128 }])
        );
    }

    #[test]
    fn short_common_passwords_get_both_reasons() {
        assert_eq!(
            Policy::new().check("123456"),
            Err(vec![Violation::TooShort { min: 8 }, Violation::Common])
        );
    }

    #[test]
    fn the_builder_refuses_what_asvs_forbids() {
        assert!(Policy::builder().min_chars(7).build().is_err());
        assert!(Policy::builder().max_chars(63).build().is_err());
        assert!(Policy::builder().max_chars(257).build().is_err());
        assert!(
            Policy::builder()
                .min_chars(100)
                .max_chars(64)
                .build()
                .is_err()
        );
        let strict = Policy::builder()
            .min_chars(15)
            .max_chars(64)
            .build()
            .unwrap();
        assert_eq!(
            strict.check("fourteen chars"),
            Err(vec![Violation::TooShort { min: 15 }])
        );
        let lax = Policy::builder().reject_common(false).build().unwrap();
        assert!(lax.check("password").is_ok());
    }

    #[test]
    fn nfkc_turns_at_most_four_code_points_into_one() {
        // The premises of `is_over_input_bound`, over every code point.
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let one = c.to_string();
            assert!(one.nfd().count() <= 4, "U+{:04X}", u32::from(c));
            assert!(one.nfkd().count() >= 1, "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn input_over_the_byte_bound_is_too_long_before_any_work() {
        let policy = Policy::new();
        assert!(!policy.is_over_input_bound(&"a".repeat(16 * 128)));
        assert!(policy.is_over_input_bound(&"a".repeat(16 * 128 + 1)));
        // Greek capital alpha with psili, perispomeni and ypogegrammeni, decomposed: four
        // code points, eight bytes, one character after NFKC. 128 of them are allowed and
        // go through the whole check; 129 are too long, found by normalizing.
        let greek = "\u{391}\u{313}\u{342}\u{345}";
        assert_eq!(greek.nfkc().count(), 1);
        assert_eq!(policy.check(&greek.repeat(128)), Ok(()));
        assert_eq!(
            policy.check(&greek.repeat(129)),
            Err(vec![Violation::TooLong { max: 128 }])
        );
        // A megabyte is refused without normalizing it.
        assert_eq!(
            policy.check(&"a".repeat(1 << 20)),
            Err(vec![Violation::TooLong { max: 128 }])
        );
    }

    #[test]
    fn the_longest_common_passwords_are_still_refused() {
        let policy = Policy::builder().max_chars(256).build().unwrap();
        for longest in [
            "q1w2e3r4t5y6u7i8o9p0",
            "12345678900987654321",
            "nemvxyheqdd5oqxyxyzi",
        ] {
            assert_eq!(longest.chars().count(), COMMON_LIST_LONGEST);
            assert_eq!(
                policy.check(longest),
                Err(vec![Violation::Common]),
                "{longest}"
            );
        }
        // The worst case for zxcvbn's l33t matching, at every length up to the policy's
        // maximum: never common, and (see the bench) cheap beyond 20 characters.
        let l33t: String = "4@8({[<3691!|70$5+%2"
            .repeat(13)
            .chars()
            .take(256)
            .collect();
        assert_eq!(policy.check(&l33t), Ok(()));
        assert_eq!(policy.check(&l33t[..20]), Ok(()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn text_over_the_byte_bound_has_too_many_characters(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "\u{391}\u{313}\u{342}\u{345}", // four code points, one character
                    "\u{1100}\u{1161}\u{11a8}", // Hangul jamo: one syllable
                    "e\u{301}",
                    "\u{ff21}", // fullwidth A
                    "\u{1d400}", // mathematical bold A
                    "\u{fdfa}", // one code point, eighteen after NFKC
                    "a",
                ]),
                0..700,
            ),
        ) {
            let text: String = pieces.concat();
            let policy = Policy::builder().max_chars(64).build().unwrap();
            if policy.is_over_input_bound(&text) {
                proptest::prop_assert!(text.nfkc().count() > 64);
            }
        }

        #[test]
        fn length_reasons_match_the_normalized_length(password in "\\PC{0,140}") {
            let chars = password.nfkc().count();
            let typed = password.nfc().count();
            let reasons = Policy::new().check(&password).err().unwrap_or_default();
            proptest::prop_assert_eq!(
                reasons.contains(&Violation::TooShort { min: 8 }),
                chars < 8 || typed < 8
            );
            proptest::prop_assert_eq!(reasons.contains(&Violation::TooLong { max: 128 }), chars > 128);
        }
    }
}
