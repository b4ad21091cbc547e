"""`EXPLAIN` of a SQLAlchemy statement, with its parameters bound as usual."""

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: ClauseElement, options: str = "") -> None:
        self.statement = statement
        self.options = options


@compiles(Explain)
def _compile_explain(element: Explain, compiler, **kw) -> str:
    options = f"({element.options}) " if element.options else ""
    return f"EXPLAIN {options}" + compiler.process(element.statement, **kw)
