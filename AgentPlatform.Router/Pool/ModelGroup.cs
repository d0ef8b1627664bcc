namespace AgentPlatform.Router.Pool;

/// <summary>A model name clients ask for, and the deployments that can answer it.</summary>
public sealed class ModelGroup
{
    private readonly double _totalWeight;

    public ModelGroup(string name, IEnumerable<Deployment> deployments)
    {
        Name = name;
        Deployments = deployments.ToArray();
        _totalWeight = Deployments.Sum(d => d.Weight);
    }

    public string Name { get; }

    public IReadOnlyList<Deployment> Deployments { get; }

    /// <summary>
    /// The index of the deployment to try first, picked at random in proportion to weight. The others
    /// follow in configuration order when it fails. (Routing strategies replace this in the pool issue.)
    /// </summary>
    public int PickFirst(double random01)
    {
        var target = random01 * _totalWeight;
        for (var i = 0; i < Deployments.Count; i++)
        {
            target -= Deployments[i].Weight;
            if (target < 0)
            {
                return i;
            }
        }
        return Deployments.Count - 1;
    }
}
