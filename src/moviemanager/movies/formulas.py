"""Formula injection: cells a spreadsheet would run as a formula, escaped reversibly."""

FORMULA_TRIGGERS = frozenset("=+-@\t")


# Spreadsheets run a cell starting with a trigger as a formula, so exports give such cells a
# leading "'". A value that already starts with "'" before a trigger ("'=x") gets one more, which
# makes the escaping a bijection: `unescape_formula` gives back exactly the value, whatever it was.
def needs_escape(value: str) -> bool:
    # The same as `value[:1] in TRIGGERS or (value[:1] == "'" and needs_escape(value[1:]))`,
    # without recursing once per leading "'".
    return value.lstrip("'")[:1] in FORMULA_TRIGGERS


def escape_formula(value: str) -> str:
    return "'" + value if needs_escape(value) else value


def unescape_formula(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and needs_escape(cell[1:]) else cell
