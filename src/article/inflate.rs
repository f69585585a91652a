//! Bounded stream decoding for PDFs: a stream's filters (the ones lopdf decodes: FlateDecode,
//! LZWDecode, ASCII85Decode) are run as streams with a byte budget, so a stream that would
//! inflate past it is known, and refused, after `limit` bytes of output, never inflated whole.
//! A filter lopdf does not decode ends the chain, as it does there (the stream is then used as
//! stored).

use std::io::Read;

/// Decodes `data` through `filters` in order, keeping at most `limit` bytes of output:
/// `Err(())` when some step would write more.
pub fn decode(filters: &[Vec<u8>], data: &[u8], limit: usize) -> Result<Vec<u8>, ()> {
    let mut current = data.to_vec();
    for filter in filters {
        current = match filter.as_slice() {
            b"FlateDecode" | b"Fl" => flate(&current, limit)?,
            b"LZWDecode" | b"LZW" => lzw(&current, limit)?,
            b"ASCII85Decode" | b"A85" => ascii85(&current, limit)?,
            _ => break,
        };
    }
    Ok(current)
}

/// zlib, or (as lopdf falls back to when zlib fails at once) raw deflate after the two header
/// bytes; what decodes before an error is kept, as there.
fn flate(input: &[u8], limit: usize) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let budget = limit as u64 + 1;
    let zlib = flate2::read::ZlibDecoder::new(input).take(budget).read_to_end(&mut out);
    if zlib.is_err() && out.is_empty() && input.len() > 2 {
        let _ = flate2::read::DeflateDecoder::new(&input[2..]).take(budget).read_to_end(&mut out);
    }
    if out.len() > limit {
        return Err(());
    }
    Ok(out)
}

fn lzw(input: &[u8], limit: usize) -> Result<Vec<u8>, ()> {
    let mut decoder = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut rest = input;
    loop {
        let step = decoder.decode_bytes(rest, &mut buf);
        out.extend_from_slice(&buf[..step.consumed_out]);
        if out.len() > limit {
            return Err(());
        }
        rest = &rest[step.consumed_in..];
        match step.status {
            Ok(weezl::LzwStatus::Ok) if step.consumed_in + step.consumed_out > 0 => {}
            _ => return Ok(out),
        }
    }
}

/// ASCII base-85: five characters to four bytes, `z` for four zero bytes, `~>` ends it.
fn ascii85(input: &[u8], limit: usize) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    let (mut group, mut count) = (0u64, 0);
    for &c in input {
        match c {
            b'~' => break,
            b'z' if count == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group = group * 85 + u64::from(c - b'!');
                count += 1;
                if count == 5 {
                    out.extend_from_slice(&(group as u32).to_be_bytes());
                    (group, count) = (0, 0);
                }
            }
            c if c.is_ascii_whitespace() => {}
            _ => break,
        }
        if out.len() > limit {
            return Err(());
        }
    }
    if count > 1 {
        for _ in count..5 {
            group = group * 85 + 84;
        }
        out.extend_from_slice(&(group as u32).to_be_bytes()[..count - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn chains_decode_within_the_budget_and_stop_past_it() {
        let text = b"BT /F1 11 Tf (Night buses) Tj ET".repeat(100);
        let once = zlib(&text);
        let flate = b"FlateDecode".to_vec();
        assert_eq!(decode(std::slice::from_ref(&flate), &once, 1 << 20).unwrap(), text);
        assert_eq!(decode(&[flate.clone(), flate.clone()], &zlib(&once), 1 << 20).unwrap(), text);
        assert!(decode(std::slice::from_ref(&flate), &once, 100).is_err());
        // A bomb: 64 MB of zeros in 64 KB, twice deflated.
        let bomb = zlib(&zlib(&vec![0u8; 64 << 20]));
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        assert!(decode(&[flate.clone(), flate], &bomb, 1 << 20).is_err());
        assert_eq!(decode(&[b"ASCII85Decode".to_vec()], b"87cURD]i,\"Ebo80~>", 100).unwrap(), b"Hello World!");
        assert_eq!(decode(&[b"DCTDecode".to_vec()], b"jpeg", 100).unwrap(), b"jpeg");
    }
}
