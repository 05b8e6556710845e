//! Hex digests: the checksums and cache keys written to artifacts. A utility: imports nothing
//! of the crate.

use sha2::{Digest, Sha256};

/// `bytes` as lower-case hex. (Through a lookup table into one buffer: the `hex` crate's
/// `encode` collects characters one by one, which showed in profiles of large compiles, where
/// every node and file gets a checksum.)
pub fn hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut out).expect("the buffer is twice the input");
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// The sha256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The sha256 of formatted text, in lower-case hex: [`sha256_hex`] of `format!(..)` without
/// the intermediate string.
pub fn sha256_fmt(args: std::fmt::Arguments) -> String {
    struct Hashing(Sha256);
    impl std::fmt::Write for Hashing {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Hashing(Sha256::new());
    // Writing into a hasher cannot fail.
    let _ = std::fmt::write(&mut h, args);
    hex(&h.0.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_and_matches_the_hex_crate() {
        assert_eq!(super::hex(&[0x00, 0xab, 0x7f, 0xff]), "00ab7fff");
        assert_eq!(super::hex(&[]), "");
        assert_eq!(
            super::sha256_hex(b"strata"),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"strata"))
        );
        let map: std::collections::BTreeMap<&str, Vec<u8>> = [("k", vec![1, 2])].into();
        assert_eq!(
            super::sha256_fmt(format_args!("{}:{:?}", "a", map)),
            super::sha256_hex(format!("{}:{:?}", "a", map).as_bytes())
        );
    }
}
