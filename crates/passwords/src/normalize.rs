//! NFKC normalization of passwords into memory that is zeroized.

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

/// `text` in NFKC, in a buffer that was never reallocated and is zeroized on drop.
///
/// Collecting the normalizer's output would grow the string by reallocation, freeing on
/// each step a buffer that holds a prefix of the password, which nothing clears (the
/// normalizer gives no size hint). The normalized length is measured first instead, and
/// the output written into a buffer of exactly that size. (The normalizer's own working
/// buffers hold a few characters at a time and spill to the heap only for runs of more
/// than four combining marks; they are out of reach here.)
pub(crate) fn nfkc(text: &str) -> Zeroizing<String> {
    let len = text.nfkc().map(char::len_utf8).sum();
    let mut out = Zeroizing::new(String::with_capacity(len));
    out.extend(text.nfkc());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer is allocated once, at the right size: growing it would have left its
    /// earlier, smaller copies behind.
    #[test]
    fn the_normalized_text_fills_its_one_allocation_exactly() {
        for typed in [
            "\u{fdfa}".repeat(40),
            "e\u{301}".repeat(100),
            "\u{2474}".repeat(50),
            "\u{ff76}\u{ff9e}".repeat(30),
            "plain ascii, already normalized".to_owned(),
            String::new(),
        ] {
            let normalized = nfkc(&typed);
            assert_eq!(*normalized, typed.nfkc().collect::<String>());
            assert_eq!(normalized.capacity(), normalized.len(), "{typed:?}");
        }
    }
}
