"""The review workbench (Streamlit) and how it is served.

`serve` starts Streamlit on run.py (localhost unless told otherwise; team mode); `workbench` is the app
itself: it only shows and asks, every face, index, search, decision and report operation is a call into
the library. Importing this package imports nothing heavy: the CLI imports `serve` without Streamlit's
page code.
"""
