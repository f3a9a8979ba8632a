"""The script Streamlit runs (`facematch app`, serve.APP): the workbench lives in the package, imported here.

Streamlit serves `static/` beside this file (the shipped fonts), so it stays in app/ with them.
"""

from facematch.app.workbench import main

main()
