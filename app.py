"""The review workbench for `streamlit run app.py`; `facematch app` runs the same code from the package."""

from facematch.app.workbench import main

main()
