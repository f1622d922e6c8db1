"""The TWDSL executor (installed as ``twdsl.runtime``); it depends on the IR only.

Not built yet: issue 5 builds it on the IR of issue 4.
"""
