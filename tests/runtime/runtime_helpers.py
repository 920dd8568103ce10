"""Helpers shared by the runtime tests (a module of its own: ``conftest`` names clash across test folders)."""

#: Small frame sizes for fast interface tests (MV-RECORD: the RD size).
SMALL = {"record_rod2021": (32, 32), "mv_record": (16, 4), "record_nolstm_single": (32, 32),
         "record_nolstm_multi": (32, 32), "record_carrada_rd": (32, 8), "record_carrada_ra": (32, 32)}
