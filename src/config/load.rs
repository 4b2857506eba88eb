//! Turning a file into a checked [`Config`], with errors that point at the
//! line to fix. Parse errors take their position from the `toml` error's
//! span; problems found by validation are located by walking a
//! `toml_edit::ImDocument` of the same text to the key concerned (or to the
//! nearest enclosing table when the key itself is missing).

use std::path::Path;

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::error::{ConfigError, Issue, KeyPath, Location, Segment};
use super::model::Config;
use super::validate::{validate, Clamp};

impl Config {
    /// Reads, parses and validates the config file at `path`. Durations out
    /// of range are clamped, with a warning naming the key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml_str(&text, path)
    }

    /// Parses and validates `text`; `origin` is the file name used in error
    /// messages and stored in [`Config::source`].
    pub fn from_toml_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let loaded = parse_and_validate(text, origin)?;
        for (clamp, location) in &loaded.clamps {
            let at = match location {
                Some(l) => format!("{}:{l}", origin.display()),
                None => origin.display().to_string(),
            };
            tracing::warn!(
                key = %clamp.key,
                configured = %clamp.configured,
                clamped_to = %clamp.clamped_to,
                "{at}: {} = \"{}\" is out of range; using \"{}\"",
                clamp.key,
                clamp.configured,
                clamp.clamped_to,
            );
        }
        Ok(loaded.config)
    }
}

/// A checked config and the clamps applied to it (with their locations).
#[derive(Debug)]
pub(crate) struct Loaded {
    pub config: Config,
    pub clamps: Vec<(Clamp, Option<Location>)>,
}

impl ConfigError {
    /// A problem with `key` found after loading (a certificate file that
    /// cannot be used, say), located in `config_file` when it can be read.
    pub fn at_key(config_file: &Path, key: KeyPath, problem: super::Problem) -> ConfigError {
        let location = std::fs::read_to_string(config_file).ok().and_then(|text| {
            let doc = ImDocument::parse(text.as_str()).ok()?;
            locate(&doc, &key, &text)
        });
        ConfigError::Invalid {
            path: config_file.to_path_buf(),
            issues: vec![Issue {
                key,
                location,
                problem,
            }],
        }
    }
}

/// Parse + validate without logging, so tests can see the clamps.
pub(crate) fn parse_and_validate(text: &str, origin: &Path) -> Result<Loaded, ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: origin.to_path_buf(),
        location: e.span().map(|span| Location::from_offset(text, span.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    config.source = Some(origin.to_path_buf());

    let findings = validate(&mut config);
    if findings.issues.is_empty() && findings.clamps.is_empty() {
        return Ok(Loaded {
            config,
            clamps: Vec::new(),
        });
    }
    // The text parsed above, so this parse succeeds; without it errors
    // simply carry no line.
    let doc = ImDocument::parse(text).ok();
    let find = |key: &KeyPath| doc.as_ref().and_then(|d| locate(d, key, text));

    if !findings.issues.is_empty() {
        let mut issues: Vec<Issue> = findings
            .issues
            .into_iter()
            .map(|(key, problem)| Issue {
                location: find(&key),
                key,
                problem,
            })
            .collect();
        // In file order; issues without a place last.
        issues.sort_by_key(|i| (i.location.is_none(), i.location));
        return Err(ConfigError::Invalid {
            path: origin.to_path_buf(),
            issues,
        });
    }
    let clamps = findings
        .clamps
        .into_iter()
        .map(|c| {
            let location = find(&c.key);
            (c, location)
        })
        .collect();
    Ok(Loaded { config, clamps })
}

/// A step of the walk through the document.
#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a dyn TableLike),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn table(self) -> Option<&'a dyn TableLike> {
        match self {
            Node::Item(item) => item.as_table_like(),
            Node::Table(table) => Some(table),
            Node::Value(value) => value.as_inline_table().map(|t| t as &dyn TableLike),
        }
    }

    /// The element `index` of an array of tables or an inline array, and
    /// its span (the `[[header]]` for an array of tables).
    fn element(self, index: usize) -> Option<(Node<'a>, Option<std::ops::Range<usize>>)> {
        let array = match self {
            Node::Item(Item::ArrayOfTables(tables)) => {
                let table = tables.get(index)?;
                return Some((Node::Table(table), table.span()));
            }
            Node::Item(Item::Value(Value::Array(array))) => array,
            Node::Value(Value::Array(array)) => array,
            _ => return None,
        };
        let value = array.get(index)?;
        Some((Node::Value(value), value.span()))
    }
}

/// The location of `key` in `doc`: the key itself when present, else the
/// deepest enclosing table or array element that is.
fn locate(doc: &ImDocument<&str>, key: &KeyPath, text: &str) -> Option<Location> {
    let mut node = Node::Item(doc.as_item());
    let mut best = None;
    for segment in &key.0 {
        let step = match *segment {
            Segment::Key(name) => {
                node.table()
                    .and_then(|t| t.get_key_value(name))
                    .map(|(k, item)| {
                        // A `[table]` header starts at its `[`; anything else
                        // at its key.
                        let span = match item {
                            Item::Table(table) => table.span().or_else(|| k.span()),
                            _ => k.span().or_else(|| item.span()),
                        };
                        (Node::Item(item), span)
                    })
            }
            Segment::Index(index) => node.element(index),
        };
        let Some((next, span)) = step else { break };
        node = next;
        best = span.or(best);
    }
    best.map(|span| Location::from_offset(text, span.start))
}
