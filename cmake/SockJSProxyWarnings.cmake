# Warnings and sanitizers shared by every target; link it PRIVATE.
add_library(sockjsproxy_warnings INTERFACE)
target_compile_options(sockjsproxy_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(SOCKJSPROXY_WERROR)
    target_compile_options(sockjsproxy_warnings INTERFACE -Werror)
endif()
target_compile_definitions(sockjsproxy_warnings INTERFACE
    QT_NO_KEYWORDS QT_NO_FOREACH)

if(SOCKJSPROXY_SANITIZE)
    # Applied globally so that every object file and link agrees.
    add_compile_options(-fsanitize=${SOCKJSPROXY_SANITIZE} -fno-omit-frame-pointer
                        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${SOCKJSPROXY_SANITIZE})
endif()
