using System.Security.Claims;
using AgentPlatform.Api.Errors;
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
    private static readonly Task<AuthenticateResult> NotAuthenticated = Task.FromResult(AuthenticateResult.NoResult());

    private HttpContext _context = null!;
    private Task<AuthenticateResult>? _result;
    private OpenAIErrorResult? _refusal;

    /// <summary>The caller's principal (one made once per key, whose <see cref="KeyPrincipal.Authenticated"/> is reused), or why it is refused.</summary>
    protected abstract ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> CheckAsync(HttpContext context);

    public Task InitializeAsync(AuthenticationScheme scheme, HttpContext context)
    {
        _context = context;
        return Task.CompletedTask;
    }

    /// <summary>Checks the key once per request, however often it is asked; a key this replica knows costs no allocation.</summary>
    public Task<AuthenticateResult> AuthenticateAsync()
    {
        if (_result is null)
        {
            var check = CheckAsync(_context);
            _result = check.IsCompletedSuccessfully ? Outcome(check.Result) : AwaitCheckAsync(check);
        }
        return _result;
    }

    private async Task<AuthenticateResult> AwaitCheckAsync(ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> check) => await Outcome(await check);

    private Task<AuthenticateResult> Outcome((KeyPrincipal? Principal, OpenAIErrorResult? Refusal) outcome)
    {
        _refusal = outcome.Refusal;
        return outcome.Principal?.Authenticated ?? NotAuthenticated;
    }

    public async Task ChallengeAsync(AuthenticationProperties? properties)
    {
        var refusal = _refusal ?? AccessRefusal.Missing;
        if (AccessRefusal.CountsAsFailure(refusal))
        {
            await failures.OnFailureAsync(_context, refusal.Code!);
        }
        await refusal.ExecuteAsync(_context);
    }

    /// <summary>Not reached: the policies only ask for an authenticated caller.</summary>
    public Task ForbidAsync(AuthenticationProperties? properties)
    {
        _context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return Task.CompletedTask;
    }
}

/// <summary>
/// An authenticated caller of one scheme, made once per key (not per request) with its authentication
/// result: the framework reads the result and builds its own from it, and never changes it.
/// </summary>
public class KeyPrincipal : ClaimsPrincipal
{
    public KeyPrincipal(string scheme) : base(new ClaimsIdentity(scheme)) =>
        Authenticated = Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(this, scheme)));

    internal Task<AuthenticateResult> Authenticated { get; }
}

/// <summary>Authenticates <c>/v1</c> callers by virtual key (<see cref="ClientAuthenticator"/>).</summary>
internal sealed class VirtualKeyAuthenticationHandler(FailedAuthentications failures, ClientAuthenticator authenticator) : KeyAuthenticationHandler(failures)
{
    protected override async ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> CheckAsync(HttpContext context)
    {
        var check = authenticator.AuthenticateAsync(context);
        // Synchronous for a key this replica knows: no state machine.
        return check.IsCompletedSuccessfully ? check.Result : await check;
    }
}

/// <summary>Authenticates admin callers by the master key (<see cref="MasterKeyAuthenticator"/>).</summary>
internal sealed class MasterKeyAuthenticationHandler(FailedAuthentications failures, MasterKeyAuthenticator authenticator) : KeyAuthenticationHandler(failures)
{
    private static readonly KeyPrincipal Admin = new(AccessSchemes.MasterKey);

    protected override ValueTask<(KeyPrincipal? Principal, OpenAIErrorResult? Refusal)> CheckAsync(HttpContext context) =>
        ValueTask.FromResult(authenticator.Authenticate(context) is { } refusal ? ((KeyPrincipal?)null, refusal) : (Admin, null));
}
