"""Plain data and Protocols shared by every layer.

Nothing here does I/O. Every other layer may import the domain; the domain imports
nothing of scalepilot's.
"""
