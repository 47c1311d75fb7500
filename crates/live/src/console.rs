//! The terminal's one shared line: the status line is drawn at the bottom of stderr, and a log
//! line written while it is shown first clears it, then the status is drawn again below the log
//! line. Without this, a log line written mid-status would start after the status text and the
//! next redraw (`\r`) would overwrite the log line.
//!
//! The CLI's console log writer calls [`write_log`]; [`crate::status::StatusLine`] calls
//! [`draw_status`] and [`end_status`]. Both go through one lock, so lines never interleave.

use std::io::{self, Write};
use std::sync::Mutex;

/// ANSI: move to the line's start and erase the whole line.
const CLEAR_LINE: &[u8] = b"\r\x1b[2K";

/// The shown status text (if any) and the output it is drawn on.
#[derive(Debug)]
pub struct Console<W: Write> {
    out: W,
    status: Option<String>,
}

impl<W: Write> Console<W> {
    pub const fn new(out: W) -> Self {
        Self { out, status: None }
    }

    /// Draws `text` as the status line, replacing the one shown.
    pub fn draw_status(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(CLEAR_LINE)?;
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        self.status = Some(text.to_string());
        Ok(())
    }

    /// Leaves the status line where it is (as the last line of the run) and starts a new line.
    pub fn end_status(&mut self) -> io::Result<()> {
        if self.status.take().is_some() {
            self.out.write_all(b"\n")?;
            self.out.flush()?;
        }
        Ok(())
    }

    /// Writes a whole log record: above the status line when one is shown.
    pub fn write_log(&mut self, record: &[u8]) -> io::Result<()> {
        match &self.status {
            None => self.out.write_all(record)?,
            Some(text) => {
                self.out.write_all(CLEAR_LINE)?;
                self.out.write_all(record)?;
                if !record.ends_with(b"\n") {
                    self.out.write_all(b"\n")?;
                }
                self.out.write_all(text.as_bytes())?;
            }
        }
        self.out.flush()
    }
}

/// The process's stderr, as a `Write` a static can hold.
#[derive(Debug)]
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

static STDERR: Mutex<Console<Stderr>> = Mutex::new(Console::new(Stderr));

fn with_stderr<T>(f: impl FnOnce(&mut Console<Stderr>) -> io::Result<T>) -> io::Result<T> {
    // A panic while holding the lock leaves nothing half-valid: the state is one string.
    let mut c = STDERR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(&mut c)
}

/// Draws the status line on stderr.
pub fn draw_status(text: &str) -> io::Result<()> {
    with_stderr(|c| c.draw_status(text))
}

/// Ends the status line on stderr (see [`Console::end_status`]).
pub fn end_status() -> io::Result<()> {
    with_stderr(Console::end_status)
}

/// Writes one log record to stderr, above the status line when one is shown.
pub fn write_log(record: &[u8]) -> io::Result<()> {
    with_stderr(|c| c.write_log(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_clears_the_status_and_the_status_comes_back_below_it() {
        let mut c = Console::new(Vec::new());
        c.draw_status("[ 3s] open 1").unwrap();
        c.write_log(b"INFO trade opened\n").unwrap();
        let out = String::from_utf8(c.out.clone()).unwrap();
        assert_eq!(
            out, "\r\x1b[2K[ 3s] open 1\r\x1b[2KINFO trade opened\n[ 3s] open 1",
            "the log line starts on a cleared line and the status is redrawn after it"
        );
        c.draw_status("[ 4s] open 0").unwrap();
        c.end_status().unwrap();
        c.write_log(b"INFO stopped\n").unwrap();
        let out = String::from_utf8(c.out).unwrap();
        assert!(
            out.ends_with("[ 4s] open 0\nINFO stopped\n"),
            "after the status ends, logs are written as they are: {out:?}"
        );
    }

    #[test]
    fn without_a_status_line_records_pass_through_unchanged() {
        let mut c = Console::new(Vec::new());
        c.write_log(b"WARN a\n").unwrap();
        c.write_log(b"WARN b\n").unwrap();
        assert_eq!(c.out, b"WARN a\nWARN b\n");
    }
}
