//! PostgreSQL's `numeric` text: a decimal ([`BigDec`], shared with the
//! other sources) or one of PostgreSQL's special values.

pub use logtap_core::decimal::BigDec;

/// `numeric` text: a number or one of PostgreSQL's special values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numeric {
    Finite(BigDec),
    NaN,
    PosInf,
    NegInf,
}

impl Numeric {
    /// Parses `numeric` (or `money`, once cleaned) text. Accepts what Java's
    /// `new BigDecimal(String)` accepts (sign, digits, point, exponent), plus
    /// `NaN`, `Infinity` and `-Infinity` exactly as PostgreSQL prints them.
    pub fn parse(text: &str) -> Result<Numeric, String> {
        match text {
            "NaN" => return Ok(Numeric::NaN),
            "Infinity" => return Ok(Numeric::PosInf),
            "-Infinity" => return Ok(Numeric::NegInf),
            _ => {}
        }
        BigDec::parse(text).map(Numeric::Finite)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn special_values() {
        assert_eq!(Numeric::parse("NaN").unwrap(), Numeric::NaN);
    }
}
