"""pixgate transform proxy: signed URL -> options -> plan -> libvips render -> HTTP."""
