"""The HDF5 attribution store: :mod:`.writer` streams a file atomically, :mod:`.reader` reads it back
(layout, typed accessors, chunks); the only modules that touch h5py."""
