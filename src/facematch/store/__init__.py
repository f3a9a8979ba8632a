"""An index's SQLite database, split by subject: the connection and schema (db), photos and faces
(faces), archive records (records), and cases with their decision log (cases).

`facematch.index.Index` opens an index folder and holds one of each; nothing else opens the database.
"""

from .cases import Cases
from .db import DB_NAME, RECORD_FIELDS, SCHEMA_VERSION, Database
from .faces import FaceRow, Faces, StoredPhoto
from .links import Links
from .neighbours import Neighbours
from .records import Records

__all__ = [
    "DB_NAME",
    "RECORD_FIELDS",
    "SCHEMA_VERSION",
    "Cases",
    "Database",
    "FaceRow",
    "Faces",
    "Links",
    "Neighbours",
    "Records",
    "StoredPhoto",
]
