"""The review workbench (Streamlit) and how it is served.

`serve` starts Streamlit on run.py (localhost unless told otherwise; team mode); run.py calls `workbench.main`.
The app only shows and asks: every face, index, search, decision and report operation is a call into the
library, and every word goes through the message catalog (i18n.py). Importing this package imports nothing
heavy: the CLI imports `serve` without Streamlit's page code.

The page's modules, one job each:

    language     the page's language (picker, address, browser, account) and its CSS (fonts, RTL, phone layout)
    widgets      shared widgets: decision form, scores and counts, face thumbnails, record lines, decision status
    team         who decides: login (password or OIDC), log out, who bar, a case's people; the typed name
    photos       the family's photos in a case: upload, keep, the face chosen in each, its year
    candidates   the candidate grid, a candidate's card, the compare panel, records found without a face
    cases        the side panel's case part, start page, what the family knows, the case page, decisions, exports
    crosscheck   the Cross-check page: queue, pair card, pair compare, groups, duplicates, exports
    workbench    main: session setup, the side panel's frame, routing between pages

Import order (each imports only modules listed before it; no cycles):

    language, team   import no app module
    widgets          imports language
    photos           imports language, widgets
    candidates       imports photos, widgets
    cases            imports candidates, language, photos, team, widgets
    crosscheck       imports widgets
    workbench        imports cases, crosscheck, language, serve (the passphrase's pipe), team
"""
