//! What a search of the delivery log looks for in the events' bodies: the words of the
//! search text, as both backends' full-text indexes split a body into words (runs of
//! letters and digits, compared without case). Every word must occur.

/// A search by words looks at the newest this many events that hold them, so a word
/// in every event costs a bounded read, not one of the whole log; more words (or a
/// time range) narrow it down.
pub const MAX_EVENTS: u32 = 5_000;

/// At most this many words count; a search is a few words, not a document.
pub const MAX_TERMS: usize = 8;
/// A longer run is cut: no index holds words that long usefully.
const MAX_TERM_CHARS: usize = 64;

/// The words of `text`, lower-cased, without repeats, at most [`MAX_TERMS`].
pub fn terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word: String = word.chars().take(MAX_TERM_CHARS).collect::<String>().to_lowercase();
        if !terms.contains(&word) {
            terms.push(word);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_without_case_or_repeats() {
        assert_eq!(terms("Order 42, order #42!"), ["order", "42"]);
        assert_eq!(terms("piet@example.com"), ["piet", "example", "com"]);
        assert_eq!(terms("\"; DROP TABLE events; --"), ["drop", "table", "events"]);
        assert_eq!(terms("Zürich"), ["zürich"]);
        assert!(terms(" .,;- ").is_empty());
        assert_eq!(terms("a b c d e f g h i j").len(), MAX_TERMS);
    }
}
