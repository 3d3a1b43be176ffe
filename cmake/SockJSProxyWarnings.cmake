# Warnings and sanitizers shared by every target; link it PRIVATE.
add_library(sockjsproxy_warnings INTERFACE)
if(MSVC)
    target_compile_options(sockjsproxy_warnings INTERFACE /W4 /permissive- /utf-8)
    if(SOCKJSPROXY_WERROR)
        target_compile_options(sockjsproxy_warnings INTERFACE /WX)
    endif()
else()
    target_compile_options(sockjsproxy_warnings INTERFACE -Wall -Wextra -Wpedantic)
    if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
        # Qt's qCDebug(category) << ... leaves the macro's "..." empty (valid C++20).
        target_compile_options(sockjsproxy_warnings INTERFACE -Wno-gnu-zero-variadic-macro-arguments)
    endif()
    if(SOCKJSPROXY_WERROR)
        target_compile_options(sockjsproxy_warnings INTERFACE -Werror)
    endif()
endif()
target_compile_definitions(sockjsproxy_warnings INTERFACE
    QT_NO_KEYWORDS QT_NO_FOREACH)

if(SOCKJSPROXY_SANITIZE)
    # Applied globally so that every object file and link agrees.
    add_compile_options(-fsanitize=${SOCKJSPROXY_SANITIZE} -fno-omit-frame-pointer
                        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${SOCKJSPROXY_SANITIZE})
    if(SOCKJSPROXY_SANITIZE MATCHES "undefined")
        # UBSan's vptr check tells whether an object is readable by writing
        # it into a pipe. With every descriptor in use, a state the proxy must
        # survive and that tst_EndToEnd::lowDescriptorLimit brings about, no
        # pipe can be made and each first virtual call reports a false
        # "invalid vptr". Every other undefined-behaviour check stays on.
        add_compile_options(-fno-sanitize=vptr)
        add_link_options(-fno-sanitize=vptr)
    endif()
endif()
