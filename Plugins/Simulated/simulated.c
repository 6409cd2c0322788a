#include "berth_plugin.h"
