using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Api.Access;

/// <summary>The Api's two credentials, as ASP.NET Core authentication schemes.</summary>
public static class AccessSchemes
{
    /// <summary>A virtual key (or, until any key exists, the master key) on <c>/v1</c>.</summary>
    public const string VirtualKey = "VirtualKey";

    /// <summary>The master key on <c>/admin/v1</c>.</summary>
    public const string MasterKey = "MasterKey";
}

/// <summary>What the route groups require (<c>RequireAuthorization</c>): an authenticated caller of the scheme.</summary>
public static class AccessPolicies
{
    public const string Client = "client";
    public const string Admin = "admin";

    public static IServiceCollection AddKeyAuthentication(this IServiceCollection services)
    {
        // No default scheme: only a route that requires a policy authenticates, and only with its own scheme.
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, VirtualKeyAuthenticationHandler>(AccessSchemes.VirtualKey, configureOptions: null)
            .AddScheme<AuthenticationSchemeOptions, MasterKeyAuthenticationHandler>(AccessSchemes.MasterKey, configureOptions: null);
        services.AddAuthorizationBuilder()
            .AddPolicy(Client, policy => policy.AddAuthenticationSchemes(AccessSchemes.VirtualKey).RequireAuthenticatedUser())
            .AddPolicy(Admin, policy => policy.AddAuthenticationSchemes(AccessSchemes.MasterKey).RequireAuthenticatedUser());
        return services;
    }
}

/// <summary>
/// A bearer key checked by one of the Api's authenticators; a refusal is answered in OpenAI's error
/// shape (the SDKs raise it as an authentication error) and counted against the caller's address.
/// </summary>
internal abstract class KeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, FailedAuthentications failures)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>Why this request was refused (a handler lives for one request and scheme).</summary>
    private AccessRefusal? _refusal;

    protected abstract ValueTask<(ClaimsPrincipal? Principal, AccessRefusal? Refusal)> CheckAsync();

    protected sealed override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var (principal, refusal) = await CheckAsync();
        if (principal is not null)
        {
            return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
        }
        _refusal = refusal;
        // NoResult, not Fail: the base class logs every failure at Information, and made-up keys must not
        // fill the logs. Each refusal is counted (agentplatform.auth.failures) when it is answered.
        return AuthenticateResult.NoResult();
    }

    protected sealed override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        (_refusal ?? AccessRefusal.Missing).WriteAsync(Context, failures);
}

/// <summary>Authenticates <c>/v1</c> callers by virtual key (<see cref="ClientAuthenticator"/>).</summary>
internal sealed class VirtualKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, FailedAuthentications failures, ClientAuthenticator authenticator)
    : KeyAuthenticationHandler(options, logger, encoder, failures)
{
    protected override async ValueTask<(ClaimsPrincipal? Principal, AccessRefusal? Refusal)> CheckAsync() =>
        await authenticator.AuthenticateAsync(Context);
}

/// <summary>Authenticates admin callers by the master key (<see cref="MasterKeyAuthenticator"/>).</summary>
internal sealed class MasterKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, FailedAuthentications failures, MasterKeyAuthenticator authenticator)
    : KeyAuthenticationHandler(options, logger, encoder, failures)
{
    private static readonly ClaimsPrincipal Admin = new(new ClaimsIdentity(AccessSchemes.MasterKey));

    protected override ValueTask<(ClaimsPrincipal? Principal, AccessRefusal? Refusal)> CheckAsync() =>
        ValueTask.FromResult(authenticator.Authenticate(Context) is { } refusal ? ((ClaimsPrincipal?)null, refusal) : (Admin, null));
}
