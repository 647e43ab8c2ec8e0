//! Archives as clients and registries send them: plain, gzip, bzip2, xz or zstd, told apart by their first bytes (as dockerd's
//! `DecompressStream` does). Decoders are not bounded here; callers bound what the decoded stream may unpack to.

use std::io::{self, Cursor, Read};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const BZIP2_MAGIC: &[u8] = b"BZh";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// The longest magic number.
const MAGIC_LEN: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Uncompressed,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// What the stream starting with `head` is compressed with.
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(BZIP2_MAGIC) {
            Compression::Bzip2
        } else if head.starts_with(XZ_MAGIC) {
            Compression::Xz
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::Uncompressed
        }
    }
}

/// A stream whose first bytes were read ahead, given back in front of the rest.
pub type Rewound<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// The first `len` bytes of `reader` (fewer only at its end, however small the reads it gives), and a reader that
/// yields the whole stream again from its first byte.
pub fn peek<R: Read>(mut reader: R, len: usize) -> io::Result<(Vec<u8>, Rewound<R>)> {
    let mut head = Vec::with_capacity(len);
    (&mut reader).take(len as u64).read_to_end(&mut head)?;
    Ok((head.clone(), Cursor::new(head).chain(reader)))
}

/// `reader` decoded with whatever its first bytes say it is compressed with.
pub fn decompressed<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let (head, whole) = peek(reader, MAGIC_LEN)?;
    Ok(decoder(Compression::detect(&head), whole))
}

/// `reader` decoded as `compression`.
pub fn decoder<'a, R: Read + 'a>(compression: Compression, reader: R) -> Box<dyn Read + 'a> {
    let buffered = io::BufReader::new(reader);
    match compression {
        Compression::Uncompressed => Box::new(buffered),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(buffered)),
        Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(buffered)),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new(buffered)),
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(buffered) {
            Ok(decoder) => Box::new(decoder),
            // Only allocating the decoder's context can fail: the stream reads as that error.
            Err(error) => Box::new(FailedReader(Some(error))),
        },
    }
}

/// A reader whose first read fails with the error it holds.
struct FailedReader(Option<io::Error>);

impl Read for FailedReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self.0.take().unwrap_or_else(|| io::Error::other("decoder unavailable")))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// A reader that hands out one byte per read, like a slow HTTP body.
    struct Trickle<R>(R);

    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let end = buf.len().min(1);
            self.0.read(&mut buf[..end])
        }
    }

    fn decode(bytes: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        decompressed(Trickle(Cursor::new(bytes))).expect("a decoder").read_to_end(&mut out).expect("decoding");
        out
    }

    #[test]
    fn every_format_decodes_to_the_original() {
        let original = b"the same bytes in every format".repeat(50);
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&original).expect("gzip");
        let mut bzip2 = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bzip2.write_all(&original).expect("bzip2");
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&original).expect("xz");
        let zstd = zstd::stream::encode_all(&original[..], 3).expect("zstd");
        for (compressed, kind) in [
            (gzip.finish().expect("gzip"), Compression::Gzip),
            (bzip2.finish().expect("bzip2"), Compression::Bzip2),
            (xz.finish().expect("xz"), Compression::Xz),
            (zstd, Compression::Zstd),
            (original.clone(), Compression::Uncompressed),
        ] {
            assert_eq!(Compression::detect(&compressed), kind);
            assert_eq!(decode(compressed), original, "{kind:?}");
        }
    }

    #[test]
    fn short_and_empty_streams_are_uncompressed() {
        assert_eq!(decode(vec![0x1f]), vec![0x1f]);
        assert_eq!(decode(Vec::new()), Vec::<u8>::new());
        let (head, mut whole) = peek(Trickle(Cursor::new(b"abcdef".to_vec())), 4).expect("peek");
        assert_eq!(head, b"abcd");
        let mut all = Vec::new();
        whole.read_to_end(&mut all).expect("the rest");
        assert_eq!(all, b"abcdef");
    }
}
