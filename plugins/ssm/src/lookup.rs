//! Picking the value of a parameter, with ecspresso's rules and error texts (the bounds check fixed).

/// The value of parameter `name` of type `kind` (`String`, `StringList`, `SecureString`) whose raw
/// value is `value`, with the optional 0-based `index` into a StringList.
pub fn select(name: &str, kind: &str, value: &str, index: Option<&str>) -> Result<String, String> {
    match kind {
        "StringList" => {
            let Some(index) = index else {
                // ecspresso's text, typo included, so scripts matching on it keep working.
                return Err("the second argument is required for StringList type parrameter to specify the index".into());
            };
            let values: Vec<&str> = value.split(',').collect();
            let i: i64 = index.trim().parse().map_err(|_| format!("the index of a StringList must be an integer, but got {index:?}"))?;
            // ecspresso checks `len(values) < index-1` and then panics inside the template on an
            // out-of-range index; here every out-of-range index is a clean error.
            if i < 0 || i as usize >= values.len() {
                return Err(format!("StringList values were [{}], but the index {i} is out of range", values.join(" ")));
            }
            Ok(values[i as usize].to_owned())
        }
        "String" | "SecureString" => {
            if index.is_some() {
                return Err(format!("the second argument is supported only for StringList type, but the parameter {name} is of type {kind}"));
            }
            Ok(value.to_owned())
        }
        other => Err(format!("received unexpected parameter type: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(select("/s", "String", "string value", None).unwrap(), "string value");
        assert_eq!(select("/s", "SecureString", "secret", None).unwrap(), "secret");
        assert_eq!(select("/s", "String", "a,b", None).unwrap(), "a,b");
    }

    #[test]
    fn index_on_string_is_an_error() {
        assert_eq!(
            select("/string", "String", "v", Some("0")).unwrap_err(),
            "the second argument is supported only for StringList type, but the parameter /string is of type String"
        );
        assert_eq!(
            select("/securestring", "SecureString", "v", Some("0")).unwrap_err(),
            "the second argument is supported only for StringList type, but the parameter /securestring is of type SecureString"
        );
    }

    #[test]
    fn string_list() {
        let v = "stringlist value 1,stringlist value 2";
        assert_eq!(select("/l", "StringList", v, Some("0")).unwrap(), "stringlist value 1");
        assert_eq!(select("/l", "StringList", v, Some("1")).unwrap(), "stringlist value 2");
        assert_eq!(select("/l", "StringList", "only", Some("0")).unwrap(), "only");
        assert_eq!(select("/l", "StringList", "a,,c", Some("1")).unwrap(), "");
    }

    #[test]
    fn string_list_needs_an_index() {
        assert_eq!(select("/l", "StringList", "a,b", None).unwrap_err(), "the second argument is required for StringList type parrameter to specify the index");
    }

    #[test]
    fn string_list_out_of_range_is_clean() {
        // ecspresso lets index 2 of a 2-element list through its check and panics; not here.
        assert_eq!(select("/l", "StringList", "a,b", Some("2")).unwrap_err(), "StringList values were [a b], but the index 2 is out of range");
        assert_eq!(select("/l", "StringList", "a,b", Some("3")).unwrap_err(), "StringList values were [a b], but the index 3 is out of range");
        assert_eq!(select("/l", "StringList", "a,b", Some("-1")).unwrap_err(), "StringList values were [a b], but the index -1 is out of range");
        assert!(select("/l", "StringList", "a,b", Some("x")).unwrap_err().contains("must be an integer"));
    }

    #[test]
    fn unknown_type() {
        assert_eq!(select("/x", "Weird", "v", None).unwrap_err(), "received unexpected parameter type: Weird");
    }
}
