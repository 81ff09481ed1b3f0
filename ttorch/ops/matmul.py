"""(in progress)"""
__all__ = []
METHODS = {}
