//! Plain-text tables for people: columns padded to their widest cell, no trailing spaces. Small
//! enough to keep here rather than pull in a table crate (comfy-table, tabled) for two tables.

/// A table of text cells; the first row is the header.
pub struct Table {
    rows: Vec<Vec<String>>,
    framed: bool,
}

impl Table {
    pub fn new<S: AsRef<str>>(header: &[S]) -> Table {
        Table { rows: vec![header.iter().map(|h| h.as_ref().to_owned()).collect()], framed: false }
    }

    /// `| a | b` cells, as ecspresso prints `revisions`.
    pub fn framed(mut self) -> Table {
        self.framed = true;
        self
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        self.rows.push(cells.iter().map(|c| c.as_ref().to_owned()).collect());
    }

    /// Every row on its own line (each ending in `\n`); the last column is not padded.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns).map(|i| self.rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0)).collect();
        let (lead, sep) = if self.framed { ("| ", " | ") } else { ("", "  ") };
        let mut out = String::new();
        for row in &self.rows {
            let cells: Vec<String> = row.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
            out.push_str(format!("{lead}{}", cells.join(sep)).trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Table;

    #[test]
    fn columns_line_up_without_trailing_spaces() {
        let mut t = Table::new(&["ID", "STATUS"]);
        t.row(&["abcdef", "RUNNING"]);
        t.row(&["a", ""]);
        assert_eq!(t.render(), "ID      STATUS\nabcdef  RUNNING\na\n");
    }

    #[test]
    fn framed_as_ecspresso_revisions() {
        let mut t = Table::new(&["NAME", "IN USE"]).framed();
        t.row(&["app:12", "service"]);
        assert_eq!(t.render(), "| NAME   | IN USE\n| app:12 | service\n");
    }
}
