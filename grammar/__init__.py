"""The TWDSL grammar (``twdsl.lark``), shipped inside the package as ``twdsl.grammar``."""
