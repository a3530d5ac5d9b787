"""Product identity: what a package front or barcode in view names in the catalog."""
