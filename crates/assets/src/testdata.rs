//! Small, structurally valid files of every accepted binary type, generated in code, for
//! tests (here and in the end-to-end suite) and examples. The PNG is a real image with
//! correct CRCs and zlib framing; the WAV is real 16-bit PCM; the PDF has a valid
//! cross-reference table; the rest carry their format's genuine headers.

/// A `width`×`height` RGB PNG whose pixels depend on `seed` (different seeds → different
/// bytes).
pub fn png_with(width: u32, height: u32, seed: u8) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0); // filter: none
        for x in 0..width {
            raw.extend_from_slice(&[
                seed.wrapping_add(x as u8),
                seed.wrapping_mul(3).wrapping_add(y as u8),
                seed ^ 0x5A,
            ]);
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, truecolour, deflate, no filter, no interlace
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A 2×2 PNG.
pub fn png() -> Vec<u8> {
    png_with(2, 2, 7)
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// zlib framing around "stored" (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65_535).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

/// A mono 16 kHz 16-bit PCM WAV of `samples` samples of a tone whose pitch depends on
/// `seed`.
pub fn wav_with(samples: u32, seed: u8) -> Vec<u8> {
    let rate = 16_000u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let step = 200.0 + f32::from(seed) * 10.0;
    for i in 0..samples {
        let t = i as f32 / rate as f32;
        let v = (t * step * std::f32::consts::TAU).sin() * 8_000.0;
        out.extend_from_slice(&(v as i16).to_le_bytes());
    }
    out
}

/// A 0.1 s WAV.
pub fn wav() -> Vec<u8> {
    wav_with(1_600, 1)
}

/// An MPEG-1 layer III stream: an ID3v2 tag, then silent frames (128 kbit/s, 44.1 kHz).
pub fn mp3() -> Vec<u8> {
    let mut out = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    for _ in 0..3 {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        out.extend_from_slice(&frame);
    }
    out
}

/// A one-page PDF with a valid cross-reference table.
pub fn pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        "<< /Length 35 >>\nstream\nBT /F1 12 Tf 20 100 Td (hi) Tj ET\nendstream",
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A JPEG/JFIF header and end marker.
pub fn jpeg() -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    out.extend_from_slice(b"JFIF\0");
    out.extend_from_slice(&[1, 1, 0, 0, 1, 0, 1, 0, 0]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A 1×1 GIF89a.
pub fn gif() -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&[1, 0, 1, 0, 0x80, 0, 0]);
    out.extend_from_slice(&[0, 0, 0, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]);
    out.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00, 0x3B]);
    out
}

/// A 1×1 lossless WebP.
pub fn webp() -> Vec<u8> {
    vec![
        0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38,
        0x4c, 0x0d, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88,
        0x88, 0xfe, 0x07, 0x00,
    ]
}

/// A WebM EBML header (DocType `webm`) and the start of a segment; `seed` varies a byte
/// of the payload.
pub fn webm_with(seed: u8) -> Vec<u8> {
    let mut out = vec![
        0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01, 0x42, 0xF2,
        0x81, 0x04, 0x42, 0xF3, 0x81, 0x08, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm', 0x42, 0x87,
        0x81, 0x04, 0x42, 0x85, 0x81, 0x02,
    ];
    out.extend_from_slice(&[
        0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    out.extend_from_slice(&[0xEC, 0x81, seed]);
    out
}

/// [`webm_with`] seed 0.
pub fn webm() -> Vec<u8> {
    webm_with(0)
}

/// An Ogg page header with a Vorbis identification packet.
pub fn ogg() -> Vec<u8> {
    let mut out = b"OggS\x00\x02".to_vec();
    out.extend_from_slice(&[0; 8]); // granule position
    out.extend_from_slice(&[1, 0, 0, 0]); // serial
    out.extend_from_slice(&[0; 4]); // sequence
    out.extend_from_slice(&[0; 4]); // checksum
    out.extend_from_slice(&[1, 30]);
    out.extend_from_slice(b"\x01vorbis");
    out.extend_from_slice(&[0; 23]);
    out
}

/// A FLAC stream marker and STREAMINFO block.
pub fn flac() -> Vec<u8> {
    let mut out = b"fLaC".to_vec();
    out.extend_from_slice(&[0x80, 0x00, 0x00, 0x22]);
    out.extend_from_slice(&[0x10, 0x00, 0x10, 0x00]);
    out.extend_from_slice(&[0; 30]);
    out
}

/// An MP4 `ftyp` box with the `M4A ` brand (an audio-only MPEG-4 file).
pub fn m4a() -> Vec<u8> {
    let mut out = vec![0x00, 0x00, 0x00, 0x18];
    out.extend_from_slice(b"ftypM4A \x00\x00\x00\x00M4A isom");
    out.extend_from_slice(&[0x00, 0x00, 0x00, 0x08]);
    out.extend_from_slice(b"free");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_checksums_are_right() {
        // Known CRC of "IEND".
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        let png = png();
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
        assert_ne!(png_with(2, 2, 1), png_with(2, 2, 2));
    }

    #[test]
    fn wav_sizes_add_up() {
        let wav = wav_with(100, 3);
        assert_eq!(wav.len(), 44 + 200);
        assert_eq!(u32::from_le_bytes(wav[4..8].try_into().unwrap()), 236);
    }
}
