using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;

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
        services.AddAuthentication(options =>
        {
            options.AddScheme<VirtualKeyAuthenticationHandler>(AccessSchemes.VirtualKey, displayName: null);
            options.AddScheme<MasterKeyAuthenticationHandler>(AccessSchemes.MasterKey, displayName: null);
        });
        // One per request and scheme (a handler holds its request), made by the container rather than by reflection.
        services.AddTransient<VirtualKeyAuthenticationHandler>();
        services.AddTransient<MasterKeyAuthenticationHandler>();
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
/// <remarks>
/// <see cref="IAuthenticationHandler"/> itself rather than <c>AuthenticationHandler&lt;TOptions&gt;</c>:
/// these schemes have no options, events or forwarding, and the base class would create a logger and
/// look its options up on every request — this is the hot path of every call. Nothing is logged for a
/// refusal either (made-up keys must not fill the logs); each is counted (<c>agentplatform.auth.failures</c>).
/// </remarks>
internal abstract class KeyAuthenticationHandler(FailedAuthentications failures) : IAuthenticationHandler
{
    private HttpContext _context = null!;
    private string _scheme = "";
    private Task<AuthenticateResult>? _result;
    private AccessRefusal? _refusal;

    protected abstract ValueTask<(ClaimsPrincipal? Principal, AccessRefusal? Refusal)> CheckAsync(HttpContext context);

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        (_scheme, _context) = (scheme.Name, context);
        return Task.CompletedTask;
    }

    /// <summary>Checks the key once per request, however often it is asked.</summary>
    public Task<AuthenticateResult> AuthenticateAsync() => _result ??= CheckOnceAsync();

    private async Task<AuthenticateResult> CheckOnceAsync()
    {
        var (principal, refusal) = await CheckAsync(_context);
        _refusal = refusal;
        return principal is null ? AuthenticateResult.NoResult() : AuthenticateResult.Success(new AuthenticationTicket(principal, _scheme));
    }

    public Task ChallengeAsync(AuthenticationProperties? properties) => (_refusal ?? AccessRefusal.Missing).WriteAsync(_context, failures);

    /// <summary>Not reached: the policies only ask for an authenticated caller.</summary>
    public Task ForbidAsync(AuthenticationProperties? properties)
    {
        _context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return Task.CompletedTask;
    }
}

/// <summary>Authenticates <c>/v1</c> callers by virtual key (<see cref="ClientAuthenticator"/>).</summary>
internal sealed class VirtualKeyAuthenticationHandler(FailedAuthentications failures, ClientAuthenticator authenticator) : KeyAuthenticationHandler(failures)
{
    protected override async ValueTask<(ClaimsPrincipal? Principal, AccessRefusal? Refusal)> CheckAsync(HttpContext context) =>
        await authenticator.AuthenticateAsync(context);
}

/// <summary>Authenticates admin callers by the master key (<see cref="MasterKeyAuthenticator"/>).</summary>
internal sealed class MasterKeyAuthenticationHandler(FailedAuthentications failures, MasterKeyAuthenticator authenticator) : KeyAuthenticationHandler(failures)
{
    private static readonly ClaimsPrincipal Admin = new(new ClaimsIdentity(AccessSchemes.MasterKey));

    protected override ValueTask<(ClaimsPrincipal? Principal, AccessRefusal? Refusal)> CheckAsync(HttpContext context) =>
        ValueTask.FromResult(authenticator.Authenticate(context) is { } refusal ? ((ClaimsPrincipal?)null, refusal) : (Admin, null));
}
