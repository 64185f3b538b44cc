//! A parser for the `KEY = VALUE` record files of NIST CAVP (`.rsp`) and the `cryptography_vectors` text
//! format.
//!
//! - `#` starts a comment line; blank lines are ignored; `\r\n` line endings are accepted.
//! - `[Name = value]` and `[NAME]` lines are section parameters. A parameter line that follows records
//!   starts a new section.
//! - A record is a run of `KEY = VALUE` lines; a key that repeats within the current record starts the next
//!   record (so blank lines inside a record, as in the RFC 5869 file, are harmless).
//! - A bare word (such as `FAIL`) is a flag on the current record.

use std::collections::BTreeMap;

/// One record with the parameters of its section.
#[derive(Clone, Debug, Default)]
pub(super) struct Record {
    pub(super) section: BTreeMap<String, String>,
    pub(super) fields: BTreeMap<String, String>,
    pub(super) flags: Vec<String>,
}

impl Record {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    pub(super) fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// A readable identifier for error messages.
    pub(super) fn id(&self) -> String {
        let count = ["Count", "COUNT", "Len"]
            .iter()
            .find_map(|k| self.get(k))
            .unwrap_or("?");
        let section: Vec<String> = self
            .section
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        format!("[{}] {count}", section.join(","))
    }
}

pub(super) fn parse(text: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut section: BTreeMap<String, String> = BTreeMap::new();
    let mut section_open = true; // true while reading consecutive parameter lines
    let mut cur: Option<Record> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some(r) = cur.take() {
                out.push(r);
            }
            if !section_open {
                section.clear();
                section_open = true;
            }
            let (k, v) = inner.split_once('=').map_or((inner, ""), |(k, v)| (k, v));
            section.insert(k.trim().to_owned(), v.trim().to_owned());
            continue;
        }
        section_open = false;
        match line.split_once('=') {
            Some((k, v)) => {
                let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
                let starts_new = cur.as_ref().is_none_or(|r| r.fields.contains_key(&k));
                if starts_new {
                    if let Some(r) = cur.take() {
                        out.push(r);
                    }
                    cur = Some(Record {
                        section: section.clone(),
                        ..Record::default()
                    });
                }
                if let Some(r) = cur.as_mut() {
                    r.fields.insert(k, v);
                }
            }
            None => {
                if let Some(r) = cur.as_mut() {
                    r.flags.push(line.to_owned());
                }
            }
        }
    }
    if let Some(r) = cur.take() {
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_records_flags_and_crlf() {
        let text = "# c\r\n[Keylen = 256]\r\n[IVlen = 96]\r\n\r\nCount = 0\r\nKey = aa\r\nPT = \r\n\r\nCount = 1\r\nKey = bb\r\nFAIL\r\n\r\n[Keylen = 128]\r\n\r\nCount = 0\r\nKey = cc\r\n";
        let r = parse(text);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].get("PT"), Some(""));
        assert_eq!(r[0].section.get("IVlen").map(String::as_str), Some("96"));
        assert!(r[1].has_flag("FAIL"));
        assert_eq!(r[2].section.get("Keylen").map(String::as_str), Some("128"));
        assert_eq!(
            r[2].section.get("IVlen"),
            None,
            "a new section resets the parameters"
        );
    }

    #[test]
    fn blank_lines_inside_a_record() {
        let r = parse("COUNT = 1\n\nHash = SHA-256\nL = 42\n\nCOUNT = 2\nHash = SHA-256\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].get("L"), Some("42"));
    }
}
