// The application --mode names: one object per reactor thread.
#pragma once

#include <memory>

#include "server/application.hpp"
#include "server/config.hpp"

namespace wsring::server {

std::unique_ptr<Application> make_application(const Config& config);

}  // namespace wsring::server
