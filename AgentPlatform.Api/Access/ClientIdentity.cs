using AgentPlatform.Api.Tenancy;

namespace AgentPlatform.Api.Access;

/// <summary>
/// Who is calling <c>/v1</c>: a virtual key and its tenant, or — until any key exists — the master key.
/// A handler of a route that requires <see cref="AccessPolicies.Client"/> takes it as a parameter.
/// </summary>
public sealed record ClientIdentity(VirtualKey? Key, Tenant? Tenant)
{
    public static readonly ClientIdentity MasterKey = new(null, null);

    /// <summary>Both the key and its tenant must allow the model group.</summary>
    public bool AllowsModel(string model) => (Key?.AllowsModel(model) ?? true) && (Tenant?.AllowsModel(model) ?? true);

    public bool RestrictsModels => Key?.Models.Count > 0 || Tenant?.Models.Count > 0;

    /// <summary>Whether the key or its tenant carries any limit or budget (or the request can skip Redis).</summary>
    public bool IsLimited => Limited(Key) || Limited(Tenant);

    /// <summary>Whether a request must be sized before it is sent: a tokens-per-minute limit or a budget.</summary>
    public bool NeedsDemand => Key?.Tpm is not null || Key?.BudgetUsd is not null || Tenant?.Tpm is not null || Tenant?.BudgetUsd is not null;

    public bool HasBudget => Key?.BudgetUsd is not null || Tenant?.BudgetUsd is not null;

    /// <summary>Who the Router's breakers take the request to be from: the tenant, else the key (else the master key).</summary>
    public string RouterClientId => Tenant?.Id ?? Key?.Id ?? "master";

    /// <summary>Binds a handler's parameter to the caller the authentication handler found.</summary>
    public static ValueTask<ClientIdentity?> BindAsync(HttpContext context) =>
        ValueTask.FromResult<ClientIdentity?>((context.User as ClientPrincipal)?.Client
            ?? throw new InvalidOperationException($"{context.Request.Path} takes a {nameof(ClientIdentity)} but does not require the '{AccessPolicies.Client}' policy."));

    private static bool Limited(Tenancy.Limits? limits) =>
        limits is not null && (limits.Rpm is not null || limits.Tpm is not null || limits.MaxConcurrent is not null || limits.BudgetUsd is not null);
}

/// <summary>
/// The principal of an authenticated client: made once per key this replica knows (not per request)
/// and carrying the <see cref="ClientIdentity"/> the handlers read.
/// </summary>
public sealed class ClientPrincipal(ClientIdentity client, string scheme) : KeyPrincipal(scheme)
{
    public ClientIdentity Client => client;
}
