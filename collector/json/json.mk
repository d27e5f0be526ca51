# collector/json/json.mk: JSON string output shared by corecast-symbolize and corecastctl.
#
# One object, linked straight into its users (libsymbolize.a lists it among its
# objects; corecastctl links every .o prerequisite): both print names taken from
# untrusted cores and devices, and must escape them the same way.
JSONW_SRCS := collector/json/json_write.c
JSONW_OBJS := $(JSONW_SRCS:%.c=$(OBJ)/%.o)

$(BIN)/corecastctl: $(JSONW_OBJS)
