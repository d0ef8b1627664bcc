using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace AgentPlatform.Web.SignIn;

/// <summary>
/// A page's live circuit outlasts the request that opened it: it asks <see cref="ConsoleSessions"/>
/// again every <see cref="Interval"/>, and a session that has ended (the credential rotated, a sign-out
/// anywhere) loses the page.
/// </summary>
public sealed class ConsoleAuthenticationStateProvider(ConsoleSessions sessions, ILoggerFactory loggerFactory)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    protected override TimeSpan RevalidationInterval => Interval;

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        Task.FromResult(sessions.IsValid(authenticationState.User));
}
