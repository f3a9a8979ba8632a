"""The review workbench (Streamlit) and how it is served.

`serve` starts Streamlit on run.py (localhost unless told otherwise); run.py calls `workbench.main`. A team
server (`facematch app --team`) runs door_app.py instead: the same run.py as an `st.App` with `door.Door` in
front of everything Streamlit serves (the login cookie, checked on every request and websocket message).
The app only shows and asks: every face, index, search, decision and report operation is a call into the
library, and every word goes through the message catalog (i18n.py). Importing this package imports nothing
heavy: the CLI imports `serve` without Streamlit's page code.

The page's modules, one job each:

    text         what people typed and what records say, shown as text (never as Markdown): escapes, label: value
    language     the page's language (picker, address, browser, account) and its CSS (fonts, RTL, phone layout)
    widgets      shared widgets: decision form, scores and counts, face thumbnails, record lines, decision status
    door         team mode's front door (ASGI middleware in Streamlit's process): login form, OIDC arrival,
                 sessions (logout, idle, disabled), media aliases, uploads only into the cookie's own sessions
    team         who decides: the door session's account, log out, who bar, a case's people; the typed name
    photos       the family's photos in a case: upload, keep, the face chosen in each, its year
    candidates   the candidate grid, a candidate's card, the compare panel, records found without a face
    cases        the side panel's case part, start page, what the family knows, the case page, decisions, exports
    crosscheck   the Cross-check page: queue, pair card, pair compare, groups, duplicates, exports
    workbench    main: session setup, the side panel's frame, routing between pages

Import order (each imports only modules listed before it; no cycles):

    text, door       import no app module
    language         imports text
    team             imports door, language, text
    widgets          imports language, text
    photos           imports language, text, widgets
    candidates       imports photos, text, widgets
    cases            imports candidates, language, photos, team, text, widgets
    crosscheck       imports language, text, widgets
    workbench        imports cases, crosscheck, language, serve (the passphrase's pipe), team, text
"""
