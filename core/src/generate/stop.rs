//! User stop strings over streamed text. Text that could still become a stop string is held
//! back, so a matched stop string is never emitted, even when it arrives split across tokens.

pub(crate) struct StopStrings<'a> {
    stops: &'a [String],
    held: String,
}

/// What one piece of text did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Text safe to emit now.
    pub emit: String,
    /// A stop string matched; `emit` ends where it began.
    pub stopped: bool,
}

impl<'a> StopStrings<'a> {
    /// Empty stop strings are ignored.
    pub fn new(stops: &'a [String]) -> StopStrings<'a> {
        StopStrings {
            stops,
            held: String::new(),
        }
    }

    pub fn push(&mut self, piece: &str) -> Scan {
        self.held.push_str(piece);
        let live = || self.stops.iter().filter(|s| !s.is_empty());
        if let Some(at) = live().filter_map(|s| self.held.find(s.as_str())).min() {
            self.held.truncate(at);
            return Scan {
                emit: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        // Hold back the longest tail of the text that begins some stop string.
        let keep = live()
            .map(|s| longest_tail_starting(&self.held, s))
            .max()
            .unwrap_or(0);
        let emit = self.held[..self.held.len() - keep].to_owned();
        self.held.drain(..self.held.len() - keep);
        Scan {
            emit,
            stopped: false,
        }
    }

    /// The held-back text, once no more text will come.
    pub fn finish(self) -> String {
        self.held
    }
}

/// Length in bytes of the longest suffix of `text` that is a proper prefix of `stop`, cut at
/// character boundaries.
fn longest_tail_starting(text: &str, stop: &str) -> usize {
    let max = (stop.len() - 1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            let at = text.len() - n;
            text.is_char_boundary(at) && stop.starts_with(&text[at..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopStrings::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let scan = m.push(p);
            out.push_str(&scan.emit);
            if scan.stopped {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn a_stop_split_across_pieces_is_never_emitted() {
        assert_eq!(
            run(&["\nUser:"], &["Hi there", "\nUs", "er: more"]),
            ("Hi there".into(), true)
        );
        assert_eq!(run(&["END"], &["abcE", "N", "D!"]), ("abc".into(), true));
    }

    #[test]
    fn held_text_that_does_not_become_a_stop_is_emitted() {
        assert_eq!(run(&["END"], &["abcE", "Nx"]), ("abcENx".into(), false));
        assert_eq!(run(&["END"], &["the E"]), ("the E".into(), false));
    }

    #[test]
    fn the_earliest_of_several_stops_wins() {
        assert_eq!(run(&["b", "cd"], &["acdb"]), ("a".into(), true));
    }

    #[test]
    fn multibyte_text_is_cut_at_character_boundaries() {
        assert_eq!(run(&["ééx"], &["aé", "é", "y"]), ("aééy".into(), false));
        assert_eq!(run(&["ééx"], &["aé", "é", "x"]), ("a".into(), true));
        assert_eq!(run(&[""], &["abc"]), ("abc".into(), false));
    }
}
