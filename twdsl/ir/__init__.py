"""The IR: what the compiler produces and every executor runs (docs/ir.md)."""

from twdsl.ir.model import IR_VERSION, Program

__all__ = ["IR_VERSION", "Program"]
