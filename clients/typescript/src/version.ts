/** This library's version: Postbode's (clients/versions.py keeps them equal). */
export const VERSION = "0.1.0";
